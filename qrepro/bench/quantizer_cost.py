"""Forward + backward time of every quantizer of the package against the cheapest layer in its place.

An element-wise quantizer must read its input and write its output at least once per pass, like a ReLU, so
the baselines are a ReLU on the same activation tensor (128 x 16 x 32 x 32, ResNet-20's first stage at batch
128, input post-ReLU) and a plain learnable ``w * scale`` on the same weight tensor (64 x 64 x 3 x 3,
ResNet-20's largest convolution). Each case runs forward, then backward with a fixed upstream gradient, on one
thread (the ratio is what counts, and one thread keeps it free of scheduling noise); target: ratio <= 2.
Every quantizer runs as the package runs it: the activation quantizers with their fused CPU kernels
(quantizers/cpu_kernels.py: one pass per direction, plus the torch reduction whose summation order the result depends
on), for which ``eager_*`` times the same module as eager PyTorch in the same rounds; the weight quantizers eager.
``eager_full_size_passes`` counts the operators over the whole tensor in eager PyTorch (each one kernel, one pass
over memory), and ``compiled_ms`` is the eager module under ``torch.compile`` (inductor), which could fuse them
into one kernel per direction; ``compiled_ratio_to_baseline`` compares it with the eager baseline.
Weight tensors are small (36,864 values): there the time is fixed costs (autograd, allocation, operator dispatch,
the boolean masks' slow paths in eager PyTorch) and the statistics some quantizers must take with torch's own
kernels (DoReFa's tanh), not memory traffic; it is a small part of a training step (see ``qat_step``).
The ``torch's share`` rows time that share alone: the operations a quantizer must leave to torch (so that its values
stay eager PyTorch's bit for bit), forward and backward, called on plain tensors. Added to the ratio of the cheapest
complete weight quantizer (BWN: a module call, one pass each way, autograd around it), a share's ratio to
``w * scale`` is about the least its quantizer can cost here.
"""
from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.utils._pytree as pytree
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ..methods.inq import FrozenPartition
from ..methods.sq import SQ_DEFAULTS, SQWeight, quantized_units, unit_errors
from ..quantizers import (BWN, TTQ, TWN, APoTActivation, APoTWeight, DoReFaActivation, DoReFaWeight,
                          SymmetricUniformWeight, cpu_kernels)
from ..threads import torch_threads
from .measure import time_steps

ACTIVATION_SHAPE = (128, 16, 32, 32)
ROUNDS = 5
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
    ("inq (half frozen)", 2, lambda w: frozen_partition("inq", 2, w)),
    ("inq (half frozen)", 4, lambda w: frozen_partition("inq", 4, w)),
    ("elq (half frozen)", 2, lambda w: frozen_partition("elq", 2, w)),
]


def _dorefa_statistics(w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    t = w.tanh()
    w.abs().mean(), t.abs().max()
    return (t,)


def _sq_selection(w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    errors = unit_errors(w, w, "filter")  # w in the quantized weights' place: the same operators, on the same sizes
    quantized_units(errors, 0.5, SQ_DEFAULTS["prob"], SQ_DEFAULTS["select"])
    return ()


# (label, bits, forward ops(w) -> tensors kept, backward ops(grad, *kept)): what the quantizers over 2x leave to torch
SHARES: list[tuple[str, int, Callable, Callable]] = [
    ("dorefa: tanh, mean|W|, max|tanh W|; tanh_backward, a sum", 2, _dorefa_statistics,
     lambda grad, t: torch.ops.aten.tanh_backward(grad, t).sum()),
    ("sq: the choice of the filters (errors, roulette)", 2, _sq_selection, lambda grad: None),
]


class FullSizePasses(TorchDispatchMode):
    """Counts the operators that read or write a tensor of ``numel`` elements (views and metadata left out): in
    eager PyTorch each is one kernel, one pass over memory, so this is where an element-wise quantizer's time
    goes (a ReLU makes two: its forward and threshold_backward)."""

    def __init__(self, numel: int) -> None:
        super().__init__()
        self.numel, self.count = numel, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.is_view or func in METADATA_OPS:
            return out
        tensors = [t for t in pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
        self.count += any(t.numel() == self.numel for t in tensors)
        return out


METADATA_OPS = {torch.ops.aten.detach.default, torch.ops.aten.empty_like.default,
                torch.ops.aten.empty_strided.default, torch.ops.aten.empty.memory_format}


def full_size_passes(module: nn.Module, x: torch.Tensor) -> int:
    """How many operators of ``module``'s forward + backward touch a tensor of ``x``'s size (see FullSizePasses)."""
    x = x.detach().requires_grad_(True)
    with FullSizePasses(x.numel()) as mode:
        module(x).backward(torch.ones_like(x))
    module.zero_grad(set_to_none=True)
    return mode.count - 1  # the ones_like made for the upstream gradient


def cost(module: nn.Module, x: torch.Tensor, device: torch.device) -> float:
    """Median milliseconds of module(x) forward + backward with a fixed upstream gradient."""
    x = x.detach().requires_grad_(True)
    grad = torch.randn_like(x)

    def step() -> None:
        module(x).backward(grad)
        x.grad = None
        module.zero_grad(set_to_none=True)

    return time_steps(step, device, warmup=5, steps=21) * 1000


@contextmanager
def kernels(mode: str) -> Iterator[None]:
    """Run the enclosed timings with ``QREPRO_KERNELS=mode`` (see quantizers.cpu_kernels)."""
    previous = os.environ.get("QREPRO_KERNELS")
    os.environ["QREPRO_KERNELS"] = mode
    try:
        yield
    finally:
        os.environ.pop("QREPRO_KERNELS") if previous is None else os.environ.update(QREPRO_KERNELS=previous)


def rows_for(kind: str, cases: list, x: torch.Tensor, device: torch.device) -> list[dict]:
    """One row per case (the first is the baseline). In each of ``ROUNDS`` rounds every case is timed right after a
    timing of the baseline; ``ratio_to_baseline`` is the median of those paired ratios and ``ms`` the median time, so
    a slow spell of the machine (another process, a busy host) lands on both sides of a ratio, not on one. Cases
    are timed as the package runs them (with the fused CPU kernels where they apply); where they apply, ``eager_ms``
    and ``eager_ratio_to_baseline`` time the same module as eager PyTorch in the same rounds."""
    modules = []
    for _, _, factory in cases:
        torch.manual_seed(0)
        modules.append(factory(x).to(device).train())
    # the activation quantizers have fused kernels (quantizers.ops); the baseline and the weight quantizers have none
    fused = set(range(1, len(modules))) if kind == "activation" and cpu_kernels.for_tensors(x) is not None else set()
    baseline, times, ratios = [], [[] for _ in modules], [[] for _ in modules]
    eager_times, eager_ratios = [[] for _ in modules], [[] for _ in modules]
    for _ in range(ROUNDS):
        for index, module in enumerate(modules):
            baseline.append(cost(modules[0], x, device))
            times[index].append(cost(module, x, device))
            ratios[index].append(times[index][-1] / baseline[-1])
            if index in fused:
                with kernels("eager"):
                    eager_times[index].append(cost(module, x, device))
                eager_ratios[index].append(eager_times[index][-1] / baseline[-1])
    baseline_ms = statistics.median(baseline)
    rows = []
    for index, ((label, bits, _), module) in enumerate(zip(cases, modules)):
        with kernels("eager"):
            passes, compiled_ms = full_size_passes(module, x), cost(torch.compile(module), x, device)
        row = {"kind": kind, "quantizer": label, "bits": bits, "fused_kernels": index in fused,
               "ms": round(statistics.median(times[index]), 3),
               "ratio_to_baseline": round(statistics.median(ratios[index]), 2),
               "eager_ms": round(statistics.median(eager_times[index] or times[index]), 3),
               "eager_ratio_to_baseline": round(statistics.median(eager_ratios[index] or ratios[index]), 2),
               "eager_full_size_passes": passes, "compiled_ms": round(compiled_ms, 3),
               "compiled_ratio_to_baseline": round(compiled_ms / baseline_ms, 2)}
        rows.append(row)
    return rows



def share_rows(w: torch.Tensor, device: torch.device) -> list[dict]:
    """One row per ``SHARES`` case: the time of its torch operations alone, and its ratio to ``w * scale`` (paired with
    a timing of the baseline, as in ``rows_for``)."""
    baseline, grad = Scale().to(device), torch.randn_like(w)
    times, ratios = [[] for _ in SHARES], [[] for _ in SHARES]
    for _ in range(ROUNDS):
        for index, (_, _, forward_ops, backward_ops) in enumerate(SHARES):
            reference = cost(baseline, w, device)
            share = lambda f=forward_ops, b=backward_ops: b(grad, *f(w))  # noqa: E731
            times[index].append(time_steps(share, device, warmup=5, steps=21) * 1000)
            ratios[index].append(times[index][-1] / reference)
    return [{"kind": "weight, torch's share", "quantizer": label, "bits": bits,
             "ms": round(statistics.median(times[index]), 3),
             "ratio_to_baseline": round(statistics.median(ratios[index]), 2)}
            for index, (label, bits, *_) in enumerate(SHARES)]


def run(device: torch.device) -> list[dict]:
    with torch_threads(1, device):
        torch.manual_seed(0)
        activation = torch.randn(ACTIVATION_SHAPE, device=device).relu()
        weight = torch.randn(WEIGHT_SHAPE, device=device) * 0.05
        return (rows_for("activation", ACTIVATIONS, activation, device) + rows_for("weight", WEIGHTS, weight, device)
                + share_rows(weight, device))
