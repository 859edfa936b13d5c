"""DoReFa weight and activation quantization, in the Any-Precision / PD-QAT variant, with switchable bit-width.

Zhou et al., "DoReFa-Net" (arXiv 1606.06160) define the k-bit uniform quantizer on [0, 1]

    quantize_k(r) = round((2^k - 1) r) / (2^k - 1),   d quantize_k / dr := 1 (straight through).

Weights (Any-Precision DNNs, Yu et al. AAAI 2021, models/quan_ops.py; kept by PD-QAT, Hounie et al. ICASSP 2023,
ihounie/con-qat models/quan_ops.py), for every k <= 8:

    w' = tanh(W) / (2 max|tanh W|) + 1/2,      W_q = E (2 quantize_k(w') - 1),      E = mean|W| (detached),

so W_q takes 2^k values evenly spaced in [-E, E] (no zero level, k = 1 gives +-E). The "32-bit" path keeps the
same normalization without rounding: W_32 = E tanh(W) / max|tanh W|. Activations are clipped, then quantized:

    a_q = quantize_k(clamp(a, 0, 1)),      a_32 = clamp(a, 0, 1).

Gradients: the straight-through estimator replaces only the rounding; tanh, the max and the clamp keep their own
derivatives (so the k-bit weight gradient equals the 32-bit path's, and activations outside [0, 1] get none).

The modules' bit-width can be switched (``set_bits``) so that one set of weights serves several precisions,
as in Any-Precision DNNs; a ``pinned`` quantizer ignores switches (the high-precision layers of a mixed model).
"""
from __future__ import annotations

import torch
from torch import nn

from . import ops
from .ste import round_ste

FULL = 32
DOREFA_BITS = (1, 2, 3, 4, 5, 6, 7, 8, FULL)


def check_bits(bits: int) -> int:
    """``bits`` if DoReFa supports it (1..8, or 32 for the unrounded path), else a ValueError naming the choices."""
    if bits not in DOREFA_BITS:
        raise ValueError(f"DoReFa quantizers support bits {DOREFA_BITS}, got {bits!r}")
    return bits


def quantize_k(x: torch.Tensor, bits: int) -> torch.Tensor:
    """round((2^k - 1) x) / (2^k - 1) for x in [0, 1], with the straight-through gradient 1."""
    steps = 2**bits - 1
    return round_ste(x * steps) / steps


def unit_levels(bits: int) -> torch.Tensor:
    """The values of quantize_k: j / (2^k - 1) for j = 0 ... 2^k - 1 (float32, computed as quantize_k does)."""
    steps = 2**bits - 1
    return torch.arange(steps + 1, dtype=torch.float32) / steps


def dorefa_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """E (2 quantize_k(tanh W / (2 max|tanh W|) + 1/2) - 1), E = mean|W| detached; E tanh W / max|tanh W| at 32."""
    scale = w.detach().abs().mean()
    t = torch.tanh(w)
    top = t.abs().max().clamp_min(torch.finfo(t.dtype).tiny)
    if bits == FULL:
        return scale * t / top
    return scale * (2 * quantize_k(t / (2 * top) + 0.5, bits) - 1)


class _Activation(torch.autograd.Function):
    """quantize_k(clamp(a, 0, 1)) in one allocation, at ``steps`` = 2^k - 1 (None: clamp only). The gradient is the one
    autograd gives the composition, bit for bit on every finite input: clamp's derivative (1 on 0 < a < 1, exclusive
    as torch's) times (g / (2^k - 1)) (2^k - 1) from the division and product around the rounding. On float32 CPU
    tensors ``ops.dorefa_activation`` runs it as one pass per direction, equal bit for bit."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, steps: int | None) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.steps = steps
        clipped = a.clamp(0, 1)
        return clipped if steps is None else clipped.mul_(steps).round_().div_(steps)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (a,) = ctx.saved_tensors
        if ctx.steps is not None:
            grad = grad.div(ctx.steps).mul_(ctx.steps)
        return torch.ops.aten.hardtanh_backward(grad, a, 0, 1), None


def dorefa_activation(a: torch.Tensor, bits: int) -> torch.Tensor:
    """quantize_k(clamp(a, 0, 1)); clamp(a, 0, 1) at 32 bits. The levels are computed in float32 at least: a bf16
    activation (autocast) is promoted first, so the output lies exactly on j / (2^k - 1)."""
    if check_bits(bits) == FULL:
        return _Activation.apply(a, None)
    return ops.dorefa_activation(a.to(torch.promote_types(a.dtype, torch.float32)), 2**bits - 1, _Activation)


class _Switchable(nn.Module):
    """A quantizer whose bit-width follows the model's precision unless pinned."""

    def __init__(self, bits: int, pinned: bool = False):
        super().__init__()
        self.bits = check_bits(bits)
        self.pinned = pinned

    def set_bits(self, bits: int) -> None:
        if not self.pinned:
            self.bits = check_bits(bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}" + (", pinned" if self.pinned else "")


class DoReFaWeight(_Switchable):
    """Tanh-normalized, E-scaled k-bit weights (see module docstring).

    E = mean|W| = 1.5; at 2 bits the levels are E * {-1, -1/3, 1/3, 1}:

    >>> DoReFaWeight(2)(torch.tensor([3.0, -1.5, 0.5, 1.0]))
    tensor([ 1.5000, -1.5000,  0.5000,  1.5000])
    """

    def levels(self) -> torch.Tensor | None:
        """2 j / (2^k - 1) - 1 for j = 0 ... 2^k - 1 (the output is E = mean|W| times these); None at 32 bits."""
        return None if self.bits == FULL else 2 * unit_levels(self.bits) - 1

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return dorefa_weight(w, self.bits)


class DoReFaActivation(_Switchable):
    """Activations clipped to [0, 1], then k-bit uniform (see module docstring).

    >>> DoReFaActivation(2)(torch.tensor([-0.5, 0.2, 0.5, 1.7]))
    tensor([0.0000, 0.3333, 0.6667, 1.0000])
    """

    def levels(self) -> torch.Tensor | None:
        """j / (2^k - 1) for j = 0 ... 2^k - 1 (the output itself, scale 1); None at 32 bits (only clipped)."""
        return None if self.bits == FULL else unit_levels(self.bits)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return dorefa_activation(a, self.bits)
