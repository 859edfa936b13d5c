"""Quantized layers and the in-place layer swap."""
from .convert import FULL_PRECISION, LayerQuant, first_and_last, quantizable_layers, quantize_, quantized_layers
from .layers import QConv2d, QLinear

__all__ = [
    "FULL_PRECISION",
    "LayerQuant",
    "QConv2d",
    "QLinear",
    "first_and_last",
    "quantizable_layers",
    "quantize_",
    "quantized_layers",
]
