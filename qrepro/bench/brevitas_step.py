"""qrepro's quantization-aware training step against Brevitas', side by side on the same ResNet-20.

Brevitas (Xilinx/brevitas, a maintained QAT library; ``pip install brevitas``, needed by this benchmark only)
with 4-bit weights (``Int8WeightPerTensorFloat`` at 4 bits) and 4-bit unsigned inputs
(``Uint8ActPerTensorFloat`` at 4 bits) on every convolution after the stem, against qrepro's DoReFa and APoT
at 4 bits, all on the ResNet-20 of ``qrepro.models`` (stem and classifier left to each method's rule), batch 128
of 32x32 images, SGD, the step ``fit`` runs. Reports ms per step and the ratio to the full-precision step; cases
run in interleaved rounds (median per case) so that a drifting machine load biases none. Without Brevitas the
benchmark says how to install it and measures qrepro's cases alone.
"""
from __future__ import annotations

import importlib.util
import statistics
from collections.abc import Callable

import torch
from torch import nn

from ..methods import METHODS
from ..config import Schedule, TrainConfig
from ..profiles import precision_for
from ..runs.build import CIFAR10_SHAPE, build_model, trainable
from ..train import Objective, train_step
from .measure import timed

BATCH, SIZE, BITS, ROUNDS, STEPS_PER_ROUND = 128, 32, 4, 5, 3
QREPRO_CASES = [("full precision", "fp", 32), ("qrepro DoReFa", "dorefa", BITS), ("qrepro APoT", "apot", BITS)]


def brevitas_resnet20() -> nn.Module:
    """ResNet-20 with every convolution after the stem a Brevitas QuantConv2d (4-bit weights and inputs)."""
    from brevitas.nn import QuantConv2d
    from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    model = build_model(TrainConfig(chapter="bench", data="cifar10", arch="resnet20", schedule=Schedule(epochs=1)),
                        CIFAR10_SHAPE)
    stem = next(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))
    for name, conv in list(model.named_modules()):
        if not isinstance(conv, nn.Conv2d) or name == stem:
            continue
        quantized = QuantConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                                padding=conv.padding, bias=conv.bias is not None,
                                weight_quant=Int8WeightPerTensorFloat, weight_bit_width=BITS,
                                input_quant=Uint8ActPerTensorFloat, input_bit_width=BITS)
        quantized.weight.data.copy_(conv.weight.data)
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, quantized)
    return model


def qrepro_model(method: str, bits: int) -> tuple[nn.Module, Objective]:
    config = TrainConfig(chapter="bench", data="cifar10", arch="resnet20", schedule=Schedule(epochs=1),
                         method=method, bits=bits)
    METHODS[method].check(config)
    model, objective, _ = trainable(config, CIFAR10_SHAPE)
    return model, objective


def stepper(model: nn.Module, objective: Objective, device: torch.device) -> Callable[[], None]:
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g).to(device)
    y = torch.randint(0, 10, (BATCH,), generator=g).to(device)
    amp = precision_for("cifar10", device.type) == "bf16"  # as runs on images step
    return lambda: train_step(model, objective, optimizer, x, y, device, amp)


def run(device: torch.device) -> list[dict]:
    torch.manual_seed(0)
    cases = {label: stepper(*qrepro_model(method, bits), device) for label, method, bits in QREPRO_CASES}
    if importlib.util.find_spec("brevitas") is None:
        print("brevitas is not installed: `pip install brevitas` (or `pip install -e .[bench]`) adds its case")
    else:
        cases[f"Brevitas {BITS}-bit weights and inputs"] = stepper(brevitas_resnet20(), Objective(), device)
    for step in cases.values():  # warm-up: allocator, one-off initialisation of quantizer statistics
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(ROUNDS):
        for label, step in cases.items():
            times[label] += [timed(step, device) for _ in range(STEPS_PER_ROUND)]
    fp = statistics.median(times["full precision"])
    return [{"case": label, "ms_per_step": round(statistics.median(t) * 1000, 1),
             "ratio_to_fp": round(statistics.median(t) / fp, 2)} for label, t in times.items()]
