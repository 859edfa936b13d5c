"""Additive Powers-of-Two (APoT) quantization with learnable clipping (RCF).

Li, Dong, Wang, "Additive Powers-of-Two Quantization: An Efficient Non-uniform Discretization for Neural
Networks", ICLR 2020 (arXiv 1909.13144). Level sets follow the official CIFAR code
(yhhhli/APoT_Quantization, CIFAR10/models/quant_layer.py, ``build_power_value`` and ``weight_quantization``).

Level set. For b = k*n (k = 2) the paper defines

    Q^a(alpha, kn) = gamma * { sum_{i=0}^{n-1} p_i },   p_i in {0, 2^-i, 2^-(i+n), ..., 2^-(i+(2^k - 2)n)},

with gamma chosen so that the largest level is alpha. The official code builds every B-bit magnitude set as
the sums of one element from each of a few base sets of powers of two, divided by the largest sum; for
B = 2 and B = 4 this equals the paper's formula, B = 3 and B = 5 are the code's own constructions.
Weights are signed and use B = bits - 1 magnitude bits plus a sign (2-bit weights are uniform ternary
{-1, 0, 1}); activations are unsigned and use B = bits.

Weights. W_hat = (W - mean W) / std W (statistics detached), x = W_hat / alpha,

    Q(W) = alpha * Pi(clamp(x, -1, 1)),
    dQ/dW_hat = 1 (straight through, never clipped),
    dQ/dalpha = sign(x) if |x| > 1 else Pi(x) - x,

Activations (unsigned, post-ReLU), x = a / alpha:

    Q(a) = alpha * Pi(min(x, 1)),
    dQ/da = 1[x <= 1],
    dQ/dalpha = 1 if x > 1 else Pi(x) - x,

where Pi projects to the nearest level (a table lookup, see levels.LevelGrid). alpha starts at 3.0 for
weights (3 sigma) and 8.0 for activations.
"""
from __future__ import annotations

from fractions import Fraction
from functools import cache
from itertools import product

import torch
from torch import nn

from . import ops
from .levels import LevelGrid

SUPPORTED_BITS = (2, 3, 4, 5)

# Base sets of the official code's build_power_value(B): a level is one element of each set, summed.
_BASE_EXPONENTS: dict[int, tuple[tuple[int, ...], ...]] = {
    2: ((1, 2, 3),),
    3: ((1, 2, 4), (3,)),
    4: ((1, 3, 5), (2, 4, 6)),
    5: ((1, 3, 6), (2, 4, 7), (5,)),
}


@cache
def apot_magnitudes(magnitude_bits: int) -> tuple[Fraction, ...]:
    """The 2^B normalized APoT magnitudes in [0, 1] as exact fractions, sorted ascending."""
    if magnitude_bits not in _BASE_EXPONENTS:
        raise ValueError(f"APoT magnitude sets exist for B in {sorted(_BASE_EXPONENTS)}, got {magnitude_bits}")
    bases = [(Fraction(0),) + tuple(Fraction(1, 2**e) for e in exps) for exps in _BASE_EXPONENTS[magnitude_bits]]
    sums = {sum(choice) for choice in product(*bases)}
    top = max(sums)
    return tuple(sorted(s / top for s in sums))


def apot_level_fractions(bits: int, signed: bool) -> list[Fraction]:
    """Sorted APoT levels for a nominal bit-width as exact fractions, the largest equal to 1.

    signed=True (weights): +-(B = bits-1 set), with 2-bit weights uniform ternary {-1, 0, 1};
    signed=False (activations): the B = bits set.
    """
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"APoT supports bits in {SUPPORTED_BITS}, got {bits}")
    if not signed:
        return list(apot_magnitudes(bits))
    magnitudes = (Fraction(0), Fraction(1)) if bits == 2 else apot_magnitudes(bits - 1)
    return sorted({-m for m in magnitudes} | set(magnitudes))


def apot_levels(bits: int, signed: bool) -> torch.Tensor:
    """``apot_level_fractions`` as a float64 tensor."""
    return torch.tensor([float(v) for v in apot_level_fractions(bits, signed)], dtype=torch.float64)


def _sum_of_products(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sum(u * v): one read of both tensors (``torch.dot``) when they share a dense memory order, else two passes."""
    for layout in (torch.contiguous_format, torch.channels_last):
        if layout is torch.channels_last and u.dim() != 4:
            continue
        if u.is_contiguous(memory_format=layout) and v.is_contiguous(memory_format=layout):
            order = (0, 2, 3, 1) if layout is torch.channels_last else tuple(range(u.dim()))
            return torch.dot(u.permute(order).reshape(-1), v.permute(order).reshape(-1))
    return (u * v).sum()


class _RCF(torch.autograd.Function):
    """Q = alpha * Pi(x / alpha) on the grid's levels (clamped to the grid's range), with the clipping gradient

        dL/dalpha = sum g dQ/dalpha = (1 / alpha) sum g (Q - x 1[x inside]),

    one formula for both quantizers (see the module docstring): inside the clipping range alpha dQ/dalpha =
    alpha Pi(x / alpha) - x = Q - x, outside it alpha dQ/dalpha = alpha sign(x) = Q. Saving Q (the output) rather
    than Pi(x / alpha) or the cell indices makes this three passes over the tensor: the mask, the residual
    Q - x 1[inside], and its product with g, summed without writing it (activations add one for g 1[inside]; the
    forward is four: scale, clip, cell index, table lookup). ``inside`` is the paper's condition, 1[|W| <= alpha]
    for weights and 1[a <= alpha] for activations; for a clipping range alpha > 0 it equals 1[|x / alpha| <= 1]
    (1[x / alpha <= 1]) exactly, because a correctly rounded quotient of x > alpha is above 1."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor, grid: LevelGrid) -> torch.Tensor:
        q = grid.lookup(grid.cell(x, alpha), alpha)
        ctx.save_for_backward(x, alpha, q)
        return q

    @staticmethod
    def inside(x: torch.Tensor, alpha: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """1[x inside the clipping range] as a float tensor of ``dtype`` (float arithmetic on it is vectorized,
        bool arithmetic is not)."""
        raise NotImplementedError

    @staticmethod
    def grad_input(grad: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def backward(cls, ctx, grad: torch.Tensor):
        x, alpha, q = ctx.saved_tensors
        inside = cls.inside(x, alpha, q.dtype)
        grad = grad.to(q.dtype)
        residual = torch.addcmul(q, x, inside, value=-1)  # Q - x 1[inside], in Q's dtype (at least float32)
        return cls.grad_input(grad, inside).to(x.dtype), _RCF.clipping_gradient(grad, residual, alpha), None

    @staticmethod
    def clipping_gradient(grad: torch.Tensor, residual: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """dL/dalpha = (1 / alpha) sum g (Q - x 1[inside]), from the residual, as a 0-d tensor of alpha's dtype."""
        return (_sum_of_products(grad, residual) / alpha).to(alpha.dtype).reshape(())


class _WeightRCF(_RCF):
    """alpha * Pi(clamp(w_hat / alpha, -1, 1)), straight through for w_hat (never clipped), see module docstring."""

    @staticmethod
    def inside(x: torch.Tensor, alpha: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.le(x.abs(), alpha, out=torch.empty_like(x, dtype=dtype))

    @staticmethod
    def grad_input(grad: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        return grad


class _ActivationRCF(_RCF):
    """alpha * Pi(min(a / alpha, 1)), with dQ/da = 1[a <= alpha] (see module docstring); on float32 CPU tensors
    ``ops.apot_activation`` runs it as one pass per direction, equal bit for bit."""

    @staticmethod
    def inside(x: torch.Tensor, alpha: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.le(x, alpha, out=torch.empty_like(x, dtype=dtype))

    @staticmethod
    def grad_input(grad: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        return grad * inside


class APoTWeight(nn.Module):
    """APoT weight quantizer: per-layer normalization, learnable clipping alpha, signed APoT levels.

    Here W_hat = W (mean 0, std 1) and alpha = 1, so -1.4 and 1.4 are clipped and +-0.2 go to the nearest 3-bit
    levels +-1/4 of +-{0, 1/4, 1/2, 1}:

    >>> APoTWeight(3, alpha_init=1.0)(torch.tensor([-1.4, -0.2, 0.0, 0.2, 1.4])).detach()
    tensor([-1.0000, -0.2500,  0.0000,  0.2500,  1.0000])
    """

    def __init__(self, bits: int, alpha_init: float = 3.0):
        super().__init__()
        self.bits = bits
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.grid = LevelGrid(apot_level_fractions(bits, signed=True))

    def levels(self) -> torch.Tensor:
        return self.grid.levels

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.quantize(w)

    def quantize(self, w: torch.Tensor) -> torch.Tensor:
        """The formula: normalize with detached statistics, then clip and project."""
        stats = w.detach()
        w_hat = (w - stats.mean()) / stats.std()
        return _WeightRCF.apply(w_hat, self.alpha, self.grid)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


class APoTActivation(nn.Module):
    """APoT activation quantizer: learnable clipping alpha, unsigned APoT levels.

    With alpha = 2 the 2-bit output is 2 * {0, 1/4, 1/2, 1}:

    >>> APoTActivation(2, alpha_init=2.0)(torch.tensor([-1.0, 0.3, 0.9, 1.2, 5.0])).detach()
    tensor([0.0000, 0.5000, 1.0000, 1.0000, 2.0000])
    """

    def __init__(self, bits: int, alpha_init: float = 8.0):
        super().__init__()
        self.bits = bits
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.grid = LevelGrid(apot_level_fractions(bits, signed=False))

    def levels(self) -> torch.Tensor:
        return self.grid.levels

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        # a bf16 activation (autocast) is promoted first: the fused float32 CPU kernel then applies, about 5x faster
        # than the eager passes in bf16 (8.1 against 39.6 ms forward + backward at 128x16x32x32, one thread, AMD
        # EPYC with AVX512-BF16), and the output is the same float32 level
        return ops.apot_activation(a.to(torch.promote_types(a.dtype, torch.float32)), self.alpha, self.grid,
                                   _ActivationRCF)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
