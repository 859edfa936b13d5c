"""where(chosen, a, b) with one boolean per unit of a weight: INQ/ELQ's frozen weights, SQ's quantized filters.

    out = a on the chosen units, b elsewhere;   dL/da = where(chosen, g, 0),   dL/db = where(chosen, 0, g),

the values and gradients of ``torch.where`` on the expanded mask, bit for bit. ``chosen`` is one boolean per output
filter (a 1-D mask of ``b.shape[0]`` values) or one per element (``b``'s shape). On float32 CPU tensors each
direction is one fused pass (``ops.select_units``: an output filter is a block of consecutive elements in the contiguous
and in the channels-last layout alike); elsewhere, and for a mask in another memory order, it is ``torch.where``.
"""
from __future__ import annotations

import torch

from . import ops


def select_units(chosen: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a`` on the chosen units (output filters, or elements), ``b`` elsewhere (see module docstring)."""
    per_element = chosen.shape == b.shape
    if not per_element and chosen.shape != b.shape[:1]:
        raise ValueError(f"select_units: a mask of shape {tuple(chosen.shape)} is neither one per output filter nor "
                         f"one per element of a weight of shape {tuple(b.shape)}")
    expanded = chosen if per_element else chosen.reshape(-1, *[1] * (b.dim() - 1)).expand_as(b)
    in_order = chosen.stride() == b.stride() if per_element else chosen.is_contiguous()
    if not in_order:
        return torch.where(expanded, a, b)
    return ops.select_units(chosen, expanded, a, b, 1 if per_element else b[0].numel())
