"""Straight-through estimators shared by all quantizers.

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
