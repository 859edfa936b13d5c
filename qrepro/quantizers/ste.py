"""Straight-through estimators, the one home of the package's STE.

The straight-through estimator (STE; Bengio, Leonard, Courville, "Estimating or Propagating Gradients Through
Stochastic Neurons for Conditional Computation", arXiv 1308.3432, 2013) replaces the zero-almost-everywhere
derivative of a rounding or projection step by the identity:  forward y = q(x), backward dy/dx := 1.

- ``straight_through(x, q)``: any projection ``q`` already computed from ``x`` (binary, ternary levels).
- ``straight_through_kernel(x, kernel, *args)``: the same, with ``kernel(x, *args)`` a fused CPU kernel that
  returns q + (x - x) itself (``cpu_kernels``): one operator forward, none backward.
- ``round_ste(x)``: y = round(x) (half to even), one pass forward and none backward (a custom autograd
  function: the gradient is returned as it came, the same values as ``x + (round(x) - x).detach()``, which
  costs three element-wise passes forward).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def straight_through(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``q`` in the forward pass (bit-exact), with the gradient passed to ``x`` unchanged: dq/dx := 1.

    ``q + (x - x.detach())`` adds an exact zero, so the output equals ``q`` bit for bit (``x + (q - x)``
    could round); ``q`` itself receives no gradient.
    """
    return q.detach() + (x - x.detach())


class _StraightThroughKernel(torch.autograd.Function):
    """kernel(x, *args) forward, identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
        ctx.arguments = len(args)
        return kernel(x, *args)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, *[None] * ctx.arguments


def straight_through_kernel(x: torch.Tensor, kernel: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
    """``kernel(x, *args)`` in the forward pass, with the gradient passed to ``x`` unchanged, as
    ``straight_through``; the kernel computes q + (x - x), the value ``straight_through`` returns."""
    return _StraightThroughKernel.apply(x, kernel, *args)


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
