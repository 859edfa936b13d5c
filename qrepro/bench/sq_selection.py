"""Cost of SQ's selection step, per training step and so per epoch, relative to the step (epoch) itself.

For VGG-9 (batch 100) and ResNet-20 (batch 128) on 32x32 inputs, the paper's batch sizes, every layer BWN:
the training step of plain BWN, the training step of SQ-BWN at ratio 0.5 (linear probability, quantized
units drawn) per granularity, and the selection alone: per-unit errors, probabilities, roulette and the
hybrid weights of every layer (for granularity "layer": ``resample_layers``, which also re-quantizes every
layer to measure its error). Since every step selects once, the selection's share of a step is its share of
an epoch; ``select_s_per_cifar10_epoch`` multiplies it by the 391 / 500 steps of a CIFAR-10 epoch.
The seed project drew its roulette in a Python loop on the CPU, one unit at a time; ours is one top-k.
"""
from __future__ import annotations

import torch

from .. import models
from ..methods.sq import SQWeight, expand_units, quantized_units, resample_layers, sq_layers, unit_errors
from ..nn import LayerQuant, quantize_
from ..profiles import precision_for
from ..quantizers import BWN
from ..train import Objective, train_step
from .measure import time_steps

CASES = (("vgg9", 100), ("resnet20", 128))
GRANULARITIES = ("filter", "element", "layer")
RATIO, PROB, SELECT = 0.5, "linear", "quantized"
CIFAR10_TRAIN = 50_000


def _model(arch: str, granularity: str | None, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    model = models.create(arch, num_classes=10, in_channels=3, image_size=32)
    make = (lambda layer: BWN()) if granularity is None else (
        lambda layer: SQWeight(BWN(), RATIO, granularity=granularity, prob=PROB, select=SELECT))
    quantize_(model, LayerQuant(weight=make))
    return model.to(device).train()


def _step_ms(model: torch.nn.Module, batch: int, device: torch.device, layered: bool, steps: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        if layered:
            resample_layers(model)
        train_step(model, Objective(), optimizer, x, y, device,
                   amp=precision_for("cifar10", device.type) == "bf16")  # as runs on images step

    return 1000 * time_steps(step, device, warmup=2, steps=steps)


@torch.no_grad()
def _select_ms(model: torch.nn.Module, granularity: str, device: torch.device, steps: int) -> float:
    if granularity == "layer":
        return 1000 * time_steps(lambda: resample_layers(model), device, warmup=2, steps=steps)
    layers = [(layer.weight, q.base(layer.weight)) for layer, q in sq_layers(model).values()]

    def select() -> None:
        for w, q in layers:
            mask = quantized_units(unit_errors(w, q, granularity), RATIO, PROB, SELECT)
            torch.where(expand_units(mask, w, granularity), q, w)

    return 1000 * time_steps(select, device, warmup=2, steps=steps)


def run(device: torch.device) -> list[dict]:
    steps = 10 if device.type == "cuda" else 3
    rows = []
    for arch, batch in CASES:
        plain = _step_ms(_model(arch, None, device), batch, device, False, steps)
        rows.append({"arch": arch, "batch": batch, "case": "BWN", "ms_per_step": round(plain, 2)})
        per_epoch = -(-CIFAR10_TRAIN // batch)
        for granularity in GRANULARITIES:
            model = _model(arch, granularity, device)
            step = _step_ms(model, batch, device, granularity == "layer", steps)
            select = _select_ms(model, granularity, device, steps)
            rows.append({
                "arch": arch, "batch": batch, "case": f"SQ-BWN r={RATIO} {granularity}", "ms_per_step": round(step, 2),
                "step_vs_bwn": round(step / plain, 3), "select_ms_per_step": round(select, 3),
                "select_share_of_epoch_pct": round(100 * select / step, 2),
                "select_s_per_cifar10_epoch": round(select * per_epoch / 1000, 2),
            })
    return rows

