"""Power-of-two weights (INQ) and the seed project's ELQ ternary weights.

INQ: Zhou, Yao, Guo, Xu, Chen, "Incremental Network Quantization: Towards Lossless CNNs with Low-Precision Weights",
ICLR 2017 (arXiv 1702.03044; official Caffe code AojunZhou/Incremental-Network-Quantization). Layer l's level set
for b bits is

    P_l = {0, +-2^n2, ..., +-2^n1},   n1 = floor(log2(4 s / 3)),  s = max|W_l|,
                                      n2 = n1 + 1 - 2^(b-1) / 2,

one code for zero and 2^(b-1)/2 exponents for the magnitudes (b = 3: {n1-1, n1}; b = 5: n1-7 ... n1). The
4/3 factor makes s < 1.5 * 2^n1, so the largest weight maps to 2^n1. Weights are projected to the nearest
level, as the official Caffe code does (power2.cpp); inside [0, 1.5 * 2^n1) this equals the paper's rule
w_hat = beta * sgn(w) if (alpha + beta) / 2 <= |w| < 3 beta / 2. Beyond it the nearest level is +-2^n1 (the
seed's loop would map such a weight, grown since n1 was fixed, to 0).

ELQ as the seed project defines it (JonahMiller/Stochastic-Quantization inq/quantization_scheduler.py
``ELQScheduler``; no official ELQ code exists; ELQ is Zhou et al., "Explicit Loss-Error-Aware Quantization for
Low-Bit Deep Neural Networks", CVPR 2018): ternary weights with a per-layer scale fixed from the full-precision
weights,

    Q(w) = alpha * (1[w > alpha / 2] - 1[w < -alpha / 2]),   alpha = mean|W| + 0.05 * max|W|.
"""
from __future__ import annotations

import math

import torch

from .levels import nearest_level

INQ_BITS = tuple(range(2, 9))  # b = 1 has no integer exponent count (2^0 / 2)


def inq_exponents(max_abs: float, bits: int) -> tuple[int, int]:
    """(n1, n2): the largest and smallest exponent of INQ's level set for a layer with max|W| = max_abs."""
    if bits not in INQ_BITS:
        raise ValueError(f"INQ supports bits in {INQ_BITS[0]}..{INQ_BITS[-1]}, got {bits}")
    if not max_abs > 0:
        raise ValueError(f"INQ needs a layer with a nonzero weight, got max|W| = {max_abs}")
    n1 = math.floor(math.log2(4 * max_abs / 3))
    return n1, n1 + 1 - 2 ** (bits - 1) // 2


def pow2_levels(n1: int, n2: int) -> torch.Tensor:
    """The sorted level set {0, +-2^n2, ..., +-2^n1} (float64)."""
    magnitudes = [2.0**e for e in range(n2, n1 + 1)]
    return torch.tensor(sorted([-m for m in magnitudes] + [0.0] + magnitudes), dtype=torch.float64)


@torch.no_grad()
def inq_project(w: torch.Tensor, n1: int, n2: int) -> torch.Tensor:
    """Each weight to its nearest level of {0, +-2^n2, ..., +-2^n1}."""
    return nearest_level(w, pow2_levels(n1, n2))


@torch.no_grad()
def elq_scale(w: torch.Tensor) -> torch.Tensor:
    """The seed's ELQ scale of a layer: mean|W| + 0.05 * max|W|."""
    return w.abs().mean() + 0.05 * w.abs().max()


@torch.no_grad()
def elq_ternary(w: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """alpha * (1[w > alpha/2] - 1[w < -alpha/2])."""
    zero = torch.zeros((), dtype=w.dtype, device=w.device)
    return torch.where(w > alpha / 2, alpha, torch.where(w < -alpha / 2, -alpha, zero))
