"""Quantizers: one file per family, each a tensor -> tensor map onto its level set with its estimator.

Every quantizer module (an ``nn.Module`` returning the fake-quantized float tensor) exposes the same small surface:

- ``bits``: the nominal bit-width, an int (binary 1, ternary 2; 32 where a switchable quantizer runs unrounded);
- ``levels()``: the sorted normalized level set as a 1-D float32 tensor, where the quantizer has a fixed one: the
  output lies exactly on ``scale * levels()`` for the scale its docstring names (e.g. mean|W|); ``None`` where it
  has none (learned levels, or the unrounded 32-bit path);
- ``extra_repr()``: bits and the key hyper-parameters;

and one exact doctest in its docstring (run by tests/test_quantizer_contract.py).
"""
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
