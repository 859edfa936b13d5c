"""Straight-through estimators and nearest-level projection shared by all quantizers.

The straight-through estimator (STE; Bengio, Leonard, Courville 2013) replaces the zero-almost-everywhere
derivative of a rounding or projection step by the identity:  forward y = q(x), backward dy/dx = 1.
Written as ``x + (q(x) - x).detach()`` it needs no custom autograd function.
"""
from __future__ import annotations

import torch


def ste(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Return ``q`` in the forward pass and pass the gradient of ``x`` straight through: dq/dx := 1."""
    return x + (q - x).detach()


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) with the straight-through gradient 1."""
    return ste(x, torch.round(x))


def nearest_level(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Project every element of ``x`` to the nearest value of the sorted 1-D tensor ``levels``.

    Uses the midpoints between neighbouring levels as decision thresholds and ``torch.bucketize``,
    so memory stays O(numel(x)) instead of the O(numel(x) * len(levels)) of an argmin over distances.
    A value exactly on a midpoint goes to the lower level. Channels-last 4-D tensors are searched in their
    own memory order (bucketize wants contiguous input).
    """
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return nearest_level(x.permute(0, 2, 3, 1), levels).permute(0, 3, 1, 2)
    levels = levels.to(device=x.device, dtype=x.dtype)
    thresholds = (levels[1:] + levels[:-1]) / 2
    return levels[torch.bucketize(x, thresholds)]
