"""Quantizers: one file per family, each a tensor -> tensor map onto its level set with its estimator."""
from .apot import APoTActivation, APoTWeight, apot_levels, apot_magnitudes
from .dorefa import DoReFaActivation, DoReFaWeight, dorefa_activation, dorefa_weight, quantize_k
from .ste import nearest_level, round_ste, ste
from .uniform import SymmetricUniformWeight

__all__ = [
    "APoTActivation",
    "APoTWeight",
    "DoReFaActivation",
    "DoReFaWeight",
    "SymmetricUniformWeight",
    "apot_levels",
    "apot_magnitudes",
    "dorefa_activation",
    "dorefa_weight",
    "nearest_level",
    "quantize_k",
    "round_ste",
    "ste",
]
