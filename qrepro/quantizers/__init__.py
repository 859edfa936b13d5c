"""Quantizers: one file per family, each a tensor -> tensor map onto its level set with its estimator."""
from .apot import APoTActivation, APoTWeight, apot_levels, apot_magnitudes
from .ste import nearest_level, round_ste, ste
from .uniform import SymmetricUniformWeight

__all__ = [
    "APoTActivation",
    "APoTWeight",
    "SymmetricUniformWeight",
    "apot_levels",
    "apot_magnitudes",
    "nearest_level",
    "round_ste",
    "ste",
]
