"""where(chosen, a, b) with one boolean per unit of a weight: INQ/ELQ's frozen weights, SQ's quantized filters.

    out = a on the chosen units, b elsewhere;   dL/da = where(chosen, g, 0),   dL/db = where(chosen, 0, g),

the values and gradients of ``torch.where`` on the expanded mask, bit for bit. ``chosen`` is one boolean per output
filter (a 1-D mask of ``b.shape[0]`` values) or one per element (``b``'s shape). On float32 CPU tensors each
direction is one fused pass (``cpu_kernels``: an output filter is a block of consecutive elements in the contiguous
and in the channels-last layout alike); elsewhere, and for a mask in another memory order, it is ``torch.where``.
"""
from __future__ import annotations

from types import ModuleType

import torch

from . import cpu_kernels


class _SelectUnits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, chosen: torch.Tensor, expanded: torch.Tensor, unit_size: int,
                fused: ModuleType) -> torch.Tensor:
        ctx.save_for_backward(chosen, expanded)
        ctx.unit_size, ctx.fused, ctx.strides = unit_size, fused, b.stride()
        return fused.select_units(chosen, unit_size, a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        chosen, expanded = ctx.saved_tensors
        want_a = ctx.needs_input_grad[0]
        if grad.stride() == ctx.strides and cpu_kernels.for_tensors(grad) is not None:
            grad_a, grad_b = ctx.fused.select_units_backward(chosen, ctx.unit_size, grad, want_a)
        else:
            grad_a, grad_b = torch.where(expanded, grad, 0) if want_a else None, torch.where(expanded, 0, grad)
        return grad_a if want_a else None, grad_b, None, None, None, None


def select_units(chosen: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a`` on the chosen units (output filters, or elements), ``b`` elsewhere (see module docstring)."""
    per_element = chosen.shape == b.shape
    if not per_element and chosen.shape != b.shape[:1]:
        raise ValueError(f"select_units: a mask of shape {tuple(chosen.shape)} is neither one per output filter nor "
                         f"one per element of a weight of shape {tuple(b.shape)}")
    expanded = chosen if per_element else chosen.reshape(-1, *[1] * (b.dim() - 1)).expand_as(b)
    fused = cpu_kernels.for_tensors(a, b)
    in_order = chosen.stride() == b.stride() if per_element else chosen.is_contiguous()
    if fused is None or chosen.dtype != torch.bool or not in_order:
        return torch.where(expanded, a, b)
    return _SelectUnits.apply(a, b, chosen, expanded, 1 if per_element else b[0].numel(), fused)
