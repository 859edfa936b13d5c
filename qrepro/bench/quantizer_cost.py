"""Forward + backward time of every quantizer of the package against the cheapest layer in its place.

An element-wise quantizer must read its input and write its output at least once per pass, like a ReLU, so
the baselines are a ReLU on the same activation tensor (128 x 16 x 32 x 32, ResNet-20's first stage at batch
128, input post-ReLU) and a plain learnable ``w * scale`` on the same weight tensor (64 x 64 x 3 x 3,
ResNet-20's largest convolution). Each case runs forward, then backward with a fixed upstream gradient, on one
thread (the ratio is what counts, and one thread keeps it free of scheduling noise); target: ratio <= 2.
Weight tensors are small (36,864 values): there the time is mostly the per-operator overhead of eager
PyTorch (a few microseconds per operator), not memory traffic, and it is a small part of a training step
(see ``qat_step``).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..methods.inq import FrozenPartition
from ..methods.sq import SQ_DEFAULTS, SQWeight
from ..quantizers import (BWN, TTQ, TWN, APoTActivation, APoTWeight, DoReFaActivation, DoReFaWeight,
                          SymmetricUniformWeight)
from ..threads import torch_threads
from .measure import time_steps

ACTIVATION_SHAPE = (128, 16, 32, 32)
WEIGHT_SHAPE = (64, 64, 3, 3)


class Scale(nn.Module):
    """The weight baseline: w * s with a learnable scalar s."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.scale


def frozen_partition(scheme: str, bits: int, w: torch.Tensor) -> nn.Module:
    """INQ / ELQ with half of the weights frozen on their levels (the first partition step)."""
    part = FrozenPartition(w, scheme, bits)
    part.set_scale_(w)
    part.freeze_(w, w.abs() >= w.abs().median())
    return part


# (label, bits, kind, factory(input tensor) -> module)
ACTIVATIONS: list[tuple[str, int, Callable[[torch.Tensor], nn.Module]]] = [
    ("relu (baseline)", 32, lambda a: nn.ReLU()),
    ("apot", 2, lambda a: APoTActivation(2)),
    ("apot", 4, lambda a: APoTActivation(4)),
    ("dorefa", 2, lambda a: DoReFaActivation(2)),
    ("dorefa", 4, lambda a: DoReFaActivation(4)),
]
WEIGHTS: list[tuple[str, int, Callable[[torch.Tensor], nn.Module]]] = [
    ("w * scale (baseline)", 32, lambda w: Scale()),
    ("apot", 2, lambda w: APoTWeight(2)),
    ("apot", 4, lambda w: APoTWeight(4)),
    ("dorefa", 2, lambda w: DoReFaWeight(2)),
    ("dorefa", 4, lambda w: DoReFaWeight(4)),
    ("uniform (apot's 8-bit layers)", 8, lambda w: SymmetricUniformWeight(8)),
    ("bwn", 1, lambda w: BWN()),
    ("twn (paper)", 2, lambda w: TWN("paper")),
    ("twn (official, per channel)", 2, lambda w: TWN("official")),
    ("ttq", 2, lambda w: TTQ()),
    ("sq-twn (ratio 0.5, filter)", 2, lambda w: SQWeight(TWN("official"), 0.5, **SQ_DEFAULTS)),
    ("inq (half frozen)", 3, lambda w: frozen_partition("inq", 3, w)),
    ("elq (half frozen)", 2, lambda w: frozen_partition("elq", 2, w)),
]


def cost(module: nn.Module, x: torch.Tensor, device: torch.device) -> float:
    """Median milliseconds of module(x) forward + backward with a fixed upstream gradient."""
    x = x.detach().requires_grad_(True)
    grad = torch.randn_like(x)

    def step() -> None:
        module(x).backward(grad)
        x.grad = None
        module.zero_grad(set_to_none=True)

    return time_steps(step, device, warmup=5, steps=21) * 1000


def rows_for(kind: str, cases: list, x: torch.Tensor, device: torch.device) -> list[dict]:
    rows = []
    for label, bits, factory in cases:
        torch.manual_seed(0)
        module = factory(x).to(device).train()
        rows.append({"kind": kind, "quantizer": label, "bits": bits, "ms": round(cost(module, x, device), 3)})
    baseline = rows[0]["ms"]
    for row in rows:
        row["ratio_to_baseline"] = round(row["ms"] / baseline, 2)
    return rows


def run(device: torch.device) -> list[dict]:
    with torch_threads(1, device):
        torch.manual_seed(0)
        activation = torch.randn(ACTIVATION_SHAPE, device=device).relu()
        weight = torch.randn(WEIGHT_SHAPE, device=device) * 0.05
        return rows_for("activation", ACTIVATIONS, activation, device) + rows_for("weight", WEIGHTS, weight, device)
