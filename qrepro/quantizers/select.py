"""where(chosen, a, b) with one boolean per unit of a weight: INQ/ELQ's frozen weights, SQ's quantized filters.

    out = a on the chosen units, b elsewhere;   dL/da = where(chosen, g, 0),   dL/db = where(chosen, 0, g),

``torch.where`` on the mask broadcast to the weight. ``chosen`` is one boolean per output filter (a 1-D mask of
``b.shape[0]`` values) or one per element (``b``'s shape).
"""
from __future__ import annotations

import torch


def select_units(chosen: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a`` on the chosen units (output filters, or elements), ``b`` elsewhere (see module docstring)."""
    per_element = chosen.shape == b.shape
    if not per_element and chosen.shape != b.shape[:1]:
        raise ValueError(f"select_units: a mask of shape {tuple(chosen.shape)} is neither one per output filter nor "
                         f"one per element of a weight of shape {tuple(b.shape)}")
    expanded = chosen if per_element else chosen.reshape(-1, *[1] * (b.dim() - 1)).expand_as(b)
    return torch.where(expanded, a, b)
