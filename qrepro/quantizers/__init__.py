"""Quantizers: one file per family, each a tensor -> tensor map onto its level set with its estimator."""
from .apot import APoTActivation, APoTWeight, apot_level_fractions, apot_levels, apot_magnitudes
from .binary import BWN, bwn
from .dorefa import DoReFaActivation, DoReFaWeight, dorefa_activation, dorefa_weight, quantize_k
from .levels import LevelGrid, nearest_level
from .pow2 import elq_scale, elq_ternary, inq_exponents, inq_project, pow2_levels
from .ste import round_ste, straight_through
from .ternary import TTQ, TWN, twn
from .uniform import SymmetricUniformWeight

__all__ = [
    "APoTActivation",
    "APoTWeight",
    "BWN",
    "DoReFaActivation",
    "DoReFaWeight",
    "LevelGrid",
    "SymmetricUniformWeight",
    "TTQ",
    "TWN",
    "apot_level_fractions",
    "apot_levels",
    "apot_magnitudes",
    "bwn",
    "dorefa_activation",
    "dorefa_weight",
    "elq_scale",
    "elq_ternary",
    "inq_exponents",
    "inq_project",
    "nearest_level",
    "pow2_levels",
    "quantize_k",
    "round_ste",
    "straight_through",
    "twn",
]
