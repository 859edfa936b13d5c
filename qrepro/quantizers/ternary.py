"""Ternary weights: TWN (fixed threshold, least-squares scale) and TTQ (learned positive and negative scales).

TWN: Li, Zhang, Liu, "Ternary Weight Networks", 2016 (arXiv 1605.04711).

    Q(w) = alpha * sign(w) * 1[|w| > Delta],   dL/dW := dL/dQ (straight through, as the SQ code)

- variant "paper" (TWN): one Delta = 0.7 * mean|W| and one alpha = mean{|w| : |w| > Delta} per layer.
- variant "official" (the SQ authors' Caffe TernaryConvolution, dongyp13/Stochastic-Quantization
  lowbit_functions.cu): Delta = 0.7 * mean|W - mean(W)| per layer (deviation from the layer mean; equal to
  the TWN rule for zero-mean weights) and one alpha per output channel, alpha_n = mean{|w| : w in
  channel n, |w| > Delta} (0 when the set is empty). SQ needs the per-channel alpha: it quantizes channels.

TTQ: Zhu, Han, Mao, Dally, "Trained Ternary Quantization", ICLR 2017 (arXiv 1612.01064; official TensorFlow code
czhu95/ternarynet). With the threshold Delta = t * max|W| per layer (the paper's t = 0.05 on weights normalized by
max|W|, which is the same threshold on the raw weights, as the official TF code applies it) and learned scalars W_p,
W_n:

    w^t = W_p if w > Delta;  0 if |w| <= Delta;  -W_n if w < -Delta,
    dL/dw  = W_p * g on I_p,   g on I_0,   W_n * g on I_n          (g = dL/dw^t),
    dL/dW_p = sum_{I_p} g,
    dL/dW_n = + sum_{I_n} g    (wn_grad="paper": the paper's formula, also its PyTorch ports and the seed)
            = - sum_{I_n} g    (wn_grad="official": autodiff of w^t = -W_n in czhu95/ternarynet's TF code,
                                the mathematically exact derivative).

No gradient flows through Delta (max|W| is a constant in both). W_p and W_n start at 1, as in the official
code. In a layer followed by batch norm the loss does not change when W_p and W_n are scaled together, so
sum_{I_p} g = sum_{I_n} g while W_p = W_n: under the paper's sign both scales then receive the same gradient
and stay equal (only their common scale, which batch norm cancels, moves), while the exact sign moves them
apart (it learns the ratio W_p / W_n, the asymmetry TTQ is about).
"""
from __future__ import annotations

import torch
from torch import nn

from .binary import filters
from .ste import straight_through

TWN_VARIANTS = ("paper", "official")
TTQ_GRADIENTS = ("paper", "official")
TWN_DELTA = 0.7


@torch.no_grad()
def twn(w: torch.Tensor, variant: str = "paper") -> torch.Tensor:
    """Ternary weights {-alpha, 0, alpha}: per layer ("paper") or per output channel ("official")."""
    if variant == "paper":
        delta = TWN_DELTA * w.abs().mean()
        kept = w.abs() > delta
        alpha = (w.abs() * kept).sum() / kept.sum().clamp_min(1)  # 0 when nothing is kept; no host sync
        return torch.where(kept, alpha * w.sign(), torch.zeros_like(w))
    if variant == "official":
        delta = TWN_DELTA * (w - w.mean()).abs().mean()
        rows = filters(w)
        kept = rows.abs() > delta
        alpha = (rows.abs() * kept).sum(dim=1, keepdim=True) / kept.sum(dim=1, keepdim=True).clamp_min(1)
        return torch.where(kept, alpha * rows.sign(), torch.zeros_like(rows)).reshape(w.shape)
    raise ValueError(f"unknown TWN variant {variant!r}; valid: {', '.join(TWN_VARIANTS)}")


class TWN(nn.Module):
    """Ternary weight quantizer with the TWN threshold, straight-through gradient (see module docstring).

    mean|W| = 0.9, so Delta = 0.63 keeps 1.0 and -2.0, and alpha = (1.0 + 2.0) / 2:

    >>> TWN()(torch.tensor([[1.0, -0.1, 0.5, -2.0]]))
    tensor([[ 1.5000,  0.0000,  0.0000, -1.5000]])
    """

    bits = 2  # three levels, stored in two bits

    def __init__(self, variant: str = "paper"):
        super().__init__()
        if variant not in TWN_VARIANTS:
            raise ValueError(f"unknown TWN variant {variant!r}; valid: {', '.join(TWN_VARIANTS)}")
        self.variant = variant

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return straight_through(w, twn(w, self.variant))

    def levels(self) -> torch.Tensor:
        """{-1, 0, 1}: the output is alpha times these (alpha per layer, or per output channel for "official")."""
        return torch.tensor([-1.0, 0.0, 1.0])

    def extra_repr(self) -> str:
        return f"bits={self.bits}, variant={self.variant}, threshold={TWN_DELTA}"


def ttq_delta(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """TTQ's threshold Delta = t * max|W| (no gradient through it)."""
    return threshold * w.detach().abs().max()


class _TrainedTernary(torch.autograd.Function):
    """w^t = W_p on I_p, 0 on I_0, -W_n on I_n, with the TTQ gradients (see module docstring).

    I_p and I_n are float 0/1 masks p, n (on a CPU, selecting with bool masks costs several float passes), and the
    selections are written as sums in which every term but one is an exact zero, so the values are those of the
    case-by-case definition: w^t = p W_p - n W_n, and dL/dw = g (p W_p + n W_n + (1 - p - n)).
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, wp: torch.Tensor, wn: torch.Tensor, threshold: float,
                wn_sign: float) -> torch.Tensor:
        ctx.wn_sign = wn_sign
        delta = ttq_delta(w, threshold)
        positive, negative = _TrainedTernary.masks(w, delta)
        ctx.save_for_backward(w, wp, wn, delta)
        return (positive * wp.to(w.dtype)).addcmul_(negative, -wn.to(w.dtype))

    @staticmethod
    def masks(w: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p = 1[w > Delta], n = 1[w < -Delta] as float tensors."""
        return torch.gt(w, delta, out=torch.empty_like(w)), torch.lt(w, -delta, out=torch.empty_like(w))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, wp, wn, delta = ctx.saved_tensors
        positive, negative = _TrainedTernary.masks(w, delta)
        scale = (1 - positive).sub_(negative).addcmul_(positive, wp).addcmul_(negative, wn)
        grad_w = grad * scale
        grad_wp = (grad * positive).sum().reshape(wp.shape)
        grad_wn = (ctx.wn_sign * (grad * negative).sum()).reshape(wn.shape)
        return grad_w, grad_wp, grad_wn, None, None


class TTQ(nn.Module):
    """Trained ternary quantizer: threshold t * max|W|, learned scales W_p and W_n (see module docstring).

    With t = 0.25, Delta = 0.5 (0.5 itself is not above it); W_p = W_n = 1 at the start:

    >>> TTQ(threshold=0.25)(torch.tensor([1.0, -0.1, 0.5, -2.0])).detach()
    tensor([ 1.,  0.,  0., -1.])
    """

    bits = 2  # three levels, stored in two bits

    def __init__(self, threshold: float = 0.05, wn_grad: str = "paper"):
        super().__init__()
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < 1:
            raise ValueError(f"TTQ threshold factor t must be a number in (0, 1) (Delta = t * max|W|; the "
                             f"paper uses 0.05), got {threshold!r}")
        if wn_grad not in TTQ_GRADIENTS:
            raise ValueError(f"unknown TTQ wn_grad {wn_grad!r}; valid: {', '.join(TTQ_GRADIENTS)} "
                             "(paper: dL/dW_n = +sum g, official TF code: -sum g)")
        self.threshold = float(threshold)
        self.wn_grad = wn_grad
        self.positive_scale = nn.Parameter(torch.tensor(1.0))
        self.negative_scale = nn.Parameter(torch.tensor(1.0))

    def delta(self, w: torch.Tensor) -> torch.Tensor:
        return ttq_delta(w, self.threshold)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        sign = 1.0 if self.wn_grad == "paper" else -1.0
        wp, wn = self.positive_scale, self.negative_scale
        return _TrainedTernary.apply(w, wp, wn, self.threshold, sign)

    def levels(self) -> None:
        """None: the levels {-W_n, 0, W_p} are learned, with no fixed normalized set (W_p / W_n is trained)."""
        return None

    def extra_repr(self) -> str:
        return f"bits={self.bits}, threshold={self.threshold}, wn_grad={self.wn_grad}"
