"""What PD-QAT's primal-dual training costs per epoch against the DoReFa baseline, on PD-QAT's ResNet-20.

Per case: the training step (forward, backward, Adam) on one batch of 128 images of 32x32, and the per-batch share
of the once-per-epoch dual step (PrimalDual.end_epoch over a small random training split, divided by its batches).
An epoch of n batches costs n * (step + dual share), so the per-epoch ratio to the baseline is
(step + dual share) / baseline step, whatever n. The cases are timed in interleaved rounds (median per case), so
that a machine whose load drifts biases no case. The model is the paper's width 5 on CUDA and width 1 on the CPU
(minutes otherwise), at 1 bit (the paper's Fig. 1 setting).
"""
from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable

import torch

from ..chapters.pdqat import run_config
from ..data import DeviceLoader, ImageData
from ..profiles import precision_for
from ..runs.build import CIFAR10_SHAPE, trainable
from ..train import build_optimizer, train_step
from .measure import timed

BATCH, SIZE, BITS, DUAL_BATCHES = 128, 32, 1, 2
CASES = [  # (label, method, options)
    ("baseline (DoReFa STE)", "dorefa", {}),
    ("PD-QAT output, official gradients", "pdqat", {"constraint": "output", "epsilon": 0.9}),
    ("PD-QAT layer-wise, official gradients", "pdqat",
     {"constraint": "layerwise", "epsilon": 0.9, "epsilon_layer": 0.0125}),
    ("PD-QAT layer-wise, b-bit CE + STE", "pdqat",
     {"constraint": "layerwise", "epsilon": 0.9, "epsilon_layer": 0.0125, "objective": "low"}),
]


def random_data() -> ImageData:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (BATCH * DUAL_BATCHES, 3, SIZE, SIZE), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (BATCH * DUAL_BATCHES,), generator=g)
    return ImageData(name="random", train_x=x, train_y=y, test_x=x[:BATCH], test_y=y[:BATCH],
                     classes=tuple("0123456789"), mean=(0.5,) * 3, std=(0.25,) * 3, crop_pad=4, flip=True)


def build_case(method_name: str, options: dict, device: torch.device) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one training step, one dual step over the random training split) of a case, ready to time."""
    width = 5 if device.type == "cuda" else 1
    config = run_config(method_name, BITS, options, arch="preact_resnet20", profile="paper", data="random", epochs=1,
                        seed=0)
    config = dataclasses.replace(config, arch_options={**config.arch_options, "width": width})
    torch.manual_seed(0)
    model, objective, _ = trainable(config, CIFAR10_SHAPE)
    model.to(device).train()
    optimizer = build_optimizer(model, config.schedule)
    loader = DeviceLoader(random_data(), "train", BATCH, device=device, seed=0)
    x, y = next(iter(loader))

    def step() -> None:
        train_step(model, objective, optimizer, x, y, device,
                   amp=precision_for("cifar10", device.type) == "bf16")  # as runs on images step

    return step, lambda: objective.end_epoch(model, loader, 0)


def run(device: torch.device, rounds: int = 0) -> list[dict]:
    rounds = rounds or (10 if device.type == "cuda" else 4)
    cases = [(label, *build_case(method, options, device)) for label, method, options in CASES]
    for _, step, dual in cases:  # warm-up
        step()
        dual()
    steps: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    duals: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(rounds):
        for label, step, dual in cases:
            steps[label].append(timed(step, device))
            duals[label].append(timed(dual, device) / DUAL_BATCHES)
    width = 5 if device.type == "cuda" else 1
    baseline = statistics.median(steps[cases[0][0]])
    rows = []
    for label, _, _ in cases:
        step, dual = statistics.median(steps[label]), statistics.median(duals[label])
        rows.append({"case": label, "width": width, "batch": BATCH, "ms_per_step": round(step * 1000, 1),
                     "dual_ms_per_batch": round(dual * 1000, 1), "step_ratio": round(step / baseline, 2),
                     "epoch_ratio": round((step + dual) / baseline, 2)})
    return rows
