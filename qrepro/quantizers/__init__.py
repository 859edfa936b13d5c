"""Quantizers: one file per family, each a tensor -> tensor map onto its level set with its estimator."""
from .apot import APoTActivation, APoTWeight, apot_level_fractions, apot_levels, apot_magnitudes
from .levels import LevelGrid, nearest_level
from .ste import round_ste, ste
from .uniform import SymmetricUniformWeight

__all__ = [
    "APoTActivation",
    "APoTWeight",
    "LevelGrid",
    "SymmetricUniformWeight",
    "apot_level_fractions",
    "apot_levels",
    "apot_magnitudes",
    "nearest_level",
    "round_ste",
    "ste",
]
