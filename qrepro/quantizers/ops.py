"""The one seam between the quantizers and the compiled CPU kernels (``cpu_kernels``).

Every quantizer is written once, as its eager PyTorch formula, which is the reference. Where a kernel exists, the
quantizer calls the op of the same name here and passes that formula; the op runs the kernel where it applies (float32
CPU tensors in one dense memory order, not under ``torch.compile``; ``cpu_kernels.for_tensors``) and the formula
everywhere else, so a quantizer never knows whether C++ ran. Kernel and formula give the same values and gradients bit
for bit (tests/test_cpu_kernels.py, tests/test_weight_kernels.py, tests/test_kernels_training.py). No other quantizer
module reaches the compiled code.

An op whose kernel runs both directions is an autograd function here; when a gradient arrives in another layout than
its forward's tensors, its backward falls back to the eager formula's derivative.
"""
from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import torch

from . import cpu_kernels
from .levels import NOT_FINITE, LevelGrid

Formula = Callable[[], torch.Tensor]  # the eager formula, evaluated only where no kernel applies


def bwn(w: torch.Tensor, eager: Formula) -> torch.Tensor:
    """BWN's per-filter binary weights with the straight-through gradient (``binary.BWN``)."""
    kernels = cpu_kernels.for_tensors(w)
    return eager() if kernels is None else kernels.bwn(w)


def twn(w: torch.Tensor, official: bool, delta: float, eager: Formula) -> torch.Tensor:
    """TWN's ternary weights with the straight-through gradient (``ternary.TWN``)."""
    kernels = cpu_kernels.for_tensors(w)
    return eager() if kernels is None else kernels.twn(w, official, delta)


def ttq(w: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, threshold: float, sign: float,
        eager: Formula) -> torch.Tensor:
    """TTQ's trained ternary weights and the gradients of w, W_p and W_n (``ternary.TTQ``)."""
    kernels = cpu_kernels.for_tensors(w) if positive.dtype == negative.dtype == torch.float32 else None
    return eager() if kernels is None else kernels.ttq(w, positive, negative, threshold, sign)


def apot_weight(w: torch.Tensor, alpha: torch.Tensor, grid: LevelGrid, eager: Formula) -> torch.Tensor:
    """APoT's normalized, clipped and projected weights with both gradients (``apot.APoTWeight``)."""
    kernels = cpu_kernels.for_tensors(w) if alpha.dtype == torch.float32 else None
    if kernels is None:
        return eager()
    return kernels.apot_weight(w, alpha, grid.table, grid.resolution, grid.offset, grid.cells, NOT_FINITE)


class _APoTActivation(torch.autograd.Function):
    """APoT's activation quantizer (``apot._ActivationRCF``, the formula), each direction one pass. It saves what the
    formula saves (x, alpha, Q), so that the formula's backward can take over for a gradient in another layout."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor, grid: LevelGrid, eager: type[torch.autograd.Function],
                kernels: ModuleType) -> torch.Tensor:
        q, nan = kernels.apot_activation_forward(x, (grid.resolution / alpha).item(), grid.table * alpha, grid.cells)
        if nan:
            raise FloatingPointError(NOT_FINITE)
        ctx.save_for_backward(x, alpha, q)
        ctx.eager = eager
        return q

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, alpha, q = ctx.saved_tensors
        kernels = cpu_kernels.for_tensors(grad, x, q)
        if kernels is None:
            return *ctx.eager.backward(ctx, grad), None, None
        residual = cpu_kernels.scratch_like(x)
        grad_input = kernels.apot_activation_backward(grad, x, q, alpha.item(), residual)
        dalpha = ctx.eager.clipping_gradient(grad, residual, alpha)
        return grad_input, dalpha, None, None, None


def apot_activation(x: torch.Tensor, alpha: torch.Tensor, grid: LevelGrid,
                    eager: type[torch.autograd.Function]) -> torch.Tensor:
    """APoT's activation quantizer: the autograd function ``eager`` (its formula), or its kernels."""
    kernels = cpu_kernels.for_tensors(x) if alpha.dtype == torch.float32 else None
    if kernels is None:
        return eager.apply(x, alpha, grid)
    return _APoTActivation.apply(x, alpha, grid, eager, kernels)


class _DoReFaWeight(torch.autograd.Function):
    """DoReFa's weights with torch's own tanh, mean and max, the rest one pass per direction, whose backward is the
    chain rule autograd applies to the formula, operation for operation (tanh_backward; the max's gradient shared by
    its ties; clamp_min's; the division's two gradients)."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, bits: int, full: bool, eager: Callable[[torch.Tensor, int], torch.Tensor],
                kernels: ModuleType) -> torch.Tensor:
        steps = 0 if full else 2**bits - 1
        out, t, scale, top = kernels.dorefa_weight_forward(w, steps, full)
        ctx.save_for_backward(w, t, scale, top)
        ctx.bits, ctx.steps, ctx.full, ctx.eager = bits, steps, full, eager
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, t, scale, top = ctx.saved_tensors
        kernels = cpu_kernels.for_tensors(grad, t)
        if kernels is None:  # a gradient in another layout: differentiate the formula
            with torch.enable_grad():
                w = w.detach().requires_grad_(True)
                return torch.autograd.grad(ctx.eager(w, ctx.bits), w, grad)[0], None, None, None, None
        return kernels.dorefa_weight_backward(grad, t, scale, top, ctx.steps, ctx.full), None, None, None, None


def dorefa_weight(w: torch.Tensor, bits: int, full: bool,
                  eager: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
    """DoReFa's weights (``dorefa.dorefa_weight``): ``eager(w, bits)``, or its kernels (``full``: unrounded)."""
    kernels = cpu_kernels.for_tensors(w)
    return eager(w, bits) if kernels is None else _DoReFaWeight.apply(w, bits, full, eager, kernels)


class _DoReFaActivation(torch.autograd.Function):
    """quantize_k(clamp(a, 0, 1)), each direction one pass; saves what the formula (``dorefa._Activation``) saves."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, steps: int, eager: type[torch.autograd.Function],
                kernels: ModuleType) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.steps, ctx.eager = steps, eager
        return kernels.dorefa_activation_forward(a, steps)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (a,) = ctx.saved_tensors
        kernels = cpu_kernels.for_tensors(grad, a)
        if kernels is None:
            return ctx.eager.backward(ctx, grad)[0], None, None, None
        return kernels.dorefa_activation_backward(grad, a, ctx.steps), None, None, None


def dorefa_activation(a: torch.Tensor, steps: int, eager: type[torch.autograd.Function]) -> torch.Tensor:
    """DoReFa's rounded activations at ``steps`` = 2^k - 1: the autograd function ``eager``, or its kernels."""
    kernels = cpu_kernels.for_tensors(a)
    return eager.apply(a, steps) if kernels is None else _DoReFaActivation.apply(a, steps, eager, kernels)


class _Uniform(torch.autograd.Function):
    """Symmetric uniform weights, each direction one pass over the weight."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, steps: int, kernels: ModuleType) -> torch.Tensor:
        out, scale = kernels.uniform_forward(w, steps)
        ctx.save_for_backward(scale)
        ctx.steps, ctx.strides = steps, w.stride()
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (scale,) = ctx.saved_tensors
        kernels = cpu_kernels.for_tensors(grad) if grad.stride() == ctx.strides else None
        if kernels is None:  # the formula's chain rule, round_ste(w / s * steps) / steps * s, in its order
            return grad * scale / ctx.steps * ctx.steps / scale, None, None
        return kernels.uniform_backward(grad, scale, ctx.steps), None, None


def uniform(w: torch.Tensor, steps: int, eager: Formula) -> torch.Tensor:
    """Symmetric uniform weights at ``steps`` = 2^(b-1) - 1 (``uniform.SymmetricUniformWeight``)."""
    kernels = cpu_kernels.for_tensors(w)
    return eager() if kernels is None else _Uniform.apply(w, steps, kernels)


class _SelectUnits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, chosen: torch.Tensor, expanded: torch.Tensor, unit_size: int,
                kernels: ModuleType) -> torch.Tensor:
        ctx.save_for_backward(chosen, expanded)
        ctx.unit_size, ctx.kernels, ctx.strides = unit_size, kernels, b.stride()
        return kernels.select_units(chosen, unit_size, a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        chosen, expanded = ctx.saved_tensors
        want_a = ctx.needs_input_grad[0]
        if grad.stride() == ctx.strides and cpu_kernels.for_tensors(grad) is not None:
            grad_a, grad_b = ctx.kernels.select_units_backward(chosen, ctx.unit_size, grad, want_a)
        else:  # torch.where's gradients
            grad_a, grad_b = torch.where(expanded, grad, 0) if want_a else None, torch.where(expanded, 0, grad)
        return grad_a if want_a else None, grad_b, None, None, None, None


def select_units(chosen: torch.Tensor, expanded: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                 unit_size: int) -> torch.Tensor:
    """``torch.where(expanded, a, b)`` for a boolean per unit (``chosen``, in ``b``'s memory order; ``expanded`` its
    broadcast to ``b``'s shape; ``unit_size`` elements per unit), or its kernels (``select.select_units``)."""
    kernels = cpu_kernels.for_tensors(a, b)
    if kernels is None or chosen.dtype != torch.bool:
        return torch.where(expanded, a, b)
    return _SelectUnits.apply(a, b, chosen, expanded, unit_size, kernels)
