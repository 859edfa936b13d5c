"""Straight-through estimators, the one home of the package's STE.

The straight-through estimator (STE; Bengio, Leonard, Courville, "Estimating or Propagating Gradients Through
Stochastic Neurons for Conditional Computation", arXiv 1308.3432, 2013) replaces the zero-almost-everywhere
derivative of a rounding or projection step by the identity:  forward y = q(x), backward dy/dx := 1.

- ``straight_through(x, q)``: any projection ``q`` already computed from ``x`` (binary, ternary levels).
- ``round_ste(x)``: y = round(x) (half to even), one pass forward and none backward (a custom autograd
  function: the gradient is returned as it came, the same values as ``x + (round(x) - x).detach()``, which
  costs three element-wise passes forward).
"""
from __future__ import annotations

import torch


def straight_through(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``q`` in the forward pass (bit-exact), with the gradient passed to ``x`` unchanged: dq/dx := 1.

    ``q + (x - x.detach())`` adds an exact zero, so the output equals ``q`` bit for bit (``x + (q - x)``
    could round); ``q`` itself receives no gradient.
    """
    return q.detach() + (x - x.detach())


class _RoundSTE(torch.autograd.Function):
    """round(x) forward, identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) (half to even) with the straight-through gradient 1."""
    return _RoundSTE.apply(x)
