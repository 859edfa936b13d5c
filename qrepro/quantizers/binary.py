"""Binary weights (BWN) with one scale per output filter, as the SQ paper trains them.

Rastegari, Ordonez, Redmon, Farhadi, "XNOR-Net: ImageNet Classification Using Binary Convolutional Neural Networks",
ECCV 2016; used as the base quantizer of Dong et al., "Learning Accurate Low-Bit Deep Neural Networks with
Stochastic Quantization", BMVC 2017 (arXiv 1708.01001; official Caffe code dongyp13/Stochastic-Quantization). With
W_i the i-th output filter (row of the weight reshaped to out_channels x fan_in, n elements):

    Q(W_i) = alpha_i * sign(W_i),   alpha_i = ||W_i||_1 / n,   sign(0) := +1,
    dL/dW := dL/dQ   (straight through).

sign(0) = +1 follows the official SQ Caffe code (w >= 0 maps to +1; the seed project maps 0 to 0). The
backward pass applies the gradient of the binarized weight to the float weight unchanged, as the official
code and the seed do: no |w| <= 1 mask and no derivative through alpha (XNOR-Net's paper has both).
"""
from __future__ import annotations

import torch
from torch import nn

from .ste import straight_through


def filters(w: torch.Tensor) -> torch.Tensor:
    """The weight as out_channels x fan_in: one row per output filter (conv) or output neuron (linear)."""
    return w.reshape(w.shape[0], -1)


@torch.no_grad()
def bwn(w: torch.Tensor) -> torch.Tensor:
    """alpha_i * sign(W_i) per output filter, sign(0) = +1 (see the module docstring)."""
    rows = filters(w)
    alpha = rows.abs().mean(dim=1, keepdim=True)
    return torch.where(rows >= 0, alpha, -alpha).reshape(w.shape)


class BWN(nn.Module):
    """Binary weight quantizer: {-alpha_i, +alpha_i} per output filter, straight-through gradient.

    Filter 0 has alpha = 1, filter 1 alpha = 1 and a zero weight (sign(0) = +1):

    >>> BWN()(torch.tensor([[0.5, -1.5], [2.0, 0.0]]))
    tensor([[ 1., -1.],
            [ 1.,  1.]])
    """

    bits = 1

    def levels(self) -> torch.Tensor:
        """{-1, 1}: the output is alpha_i times these, alpha_i = mean|W_i| of output filter i."""
        return torch.tensor([-1.0, 1.0])

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return straight_through(w, bwn(w))

    def extra_repr(self) -> str:
        return f"bits={self.bits}, scale=per-filter mean|W|"
