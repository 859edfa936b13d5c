"""The one seam between the quantizers and the compiled CPU kernels (``cpu_kernels``).

Every quantizer is written once, as its eager PyTorch formula, which is the reference. Kernels exist only where they
pay on the training path the lite runs use (bf16 autocast on a CPU with native bf16, else float32): the activation
quantizers of APoT and DoReFa, which sit on every convolution's input, where a kernel does in one pass per direction
what the formula does in seven or eight (``qat_step`` in ``make bench``: the step with the kernels against the same
step eager). The weight quantizers' kernels were removed: a weight tensor is small, their steps ran as fast eager on
that bench, and ``quantizer_cost`` put each at about 0.2 ms saved per layer of a 150-250 ms step. Such a
quantizer calls the op of the same name here and passes its formula; the op runs the kernel where it applies (float32
CPU tensors in one dense memory order, not under ``torch.compile``; ``cpu_kernels.for_tensors``) and the formula
everywhere else, so a quantizer never knows whether C++ ran. Kernel and formula give the same values and gradients bit
for bit (tests/test_cpu_kernels.py, tests/test_kernels_training.py). No other quantizer module reaches the compiled
code.

Each op is an autograd function whose kernel runs both directions; when a gradient arrives in another layout than its
forward's tensors, its backward falls back to the eager formula's derivative.
"""
from __future__ import annotations

from types import ModuleType

import torch

from . import cpu_kernels
from .levels import NOT_FINITE, LevelGrid

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
