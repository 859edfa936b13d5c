"""Symmetric uniform weight quantization, used for the 8-bit first and last layers of APoT models.

    w_q = round(w / s * (2^(b-1) - 1)) / (2^(b-1) - 1) * s,   s = max|w|,   dw_q/dw := 1 (STE)

Li, Dong, Wang, "Additive Powers-of-Two Quantization" (ICLR 2020) keep the stem convolution and the
classifier at 8 bits in every CIFAR model, including the "32-bit" one. The official code divides by the
signed maximum max(w) rather than max|w|, so its negative side is not clipped at -127 steps; we use
max|w| (a proper 255-level grid) and document the difference here.
"""
from __future__ import annotations

import torch
from torch import nn

from .ste import round_ste


class SymmetricUniformWeight(nn.Module):
    """Per-tensor symmetric b-bit weight quantizer with a straight-through gradient.

    At 3 bits, s = 3 and the levels are s * {-3, ..., 3} / 3:

    >>> SymmetricUniformWeight(3)(torch.tensor([3.0, -1.2, 0.8, 0.4]))
    tensor([ 3., -1.,  1.,  0.])
    """

    def __init__(self, bits: int = 8):
        super().__init__()
        if not 2 <= bits <= 16:
            raise ValueError(f"SymmetricUniformWeight supports 2..16 bits, got {bits}")
        self.bits = bits

    def levels(self) -> torch.Tensor:
        """j / (2^(b-1) - 1) for j = -(2^(b-1) - 1) ... 2^(b-1) - 1: the output is s = max|w| times these."""
        steps = 2 ** (self.bits - 1) - 1
        return torch.arange(-steps, steps + 1, dtype=torch.float32) / steps

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        steps = 2 ** (self.bits - 1) - 1
        return self.quantize(w, steps)

    @staticmethod
    def quantize(w: torch.Tensor, steps: int) -> torch.Tensor:
        """The formula: round(w / s * steps) / steps * s, s = max|w| detached, straight through."""
        scale = w.detach().abs().max().clamp_min(torch.finfo(w.dtype).tiny)
        return round_ste(w / scale * steps) / steps * scale

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
