"""Training-step time of ResNet-20 on 32x32 inputs, batch 128: full precision vs every registered QAT method.

The figure is the ratio of a quantization-aware step to the full-precision step (same model, data, batch),
i.e. what fake quantization costs. Each method runs at its lowest supported bit-width.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import models
from ..algorithms import METHODS
from ..config import Schedule, TrainConfig
from .measure import isolated, time_steps

BATCH, SIZE, ARCH = 128, 32, "resnet20"


def step_time(method: str, bits: int, device_name: str) -> dict:
    """Seconds per SGD step (forward, backward, update) of ``method`` at ``bits``; peak CUDA memory."""
    device = torch.device(device_name)
    torch.manual_seed(0)
    config = TrainConfig(chapter="bench", data="cifar10", arch=ARCH, schedule=Schedule(epochs=1), method=method,
                         bits=bits)
    model = models.create(ARCH, num_classes=10, in_channels=3, image_size=SIZE)
    METHODS[method].prepare(model, config)
    model.to(device)
    objective = METHODS[method].objective(model, config)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 3, SIZE, SIZE, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)

    def step() -> None:
        loss, _ = objective.loss(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = time_steps(step, device)
    row = {"method": method, "bits": bits, "ms_per_step": round(seconds * 1000, 2)}
    if device.type == "cuda":
        row["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def run(device: torch.device) -> list[dict]:
    cases = [("fp", 32)] + [(name, min(m.supported_bits)) for name, m in METHODS.items() if name != "fp"]
    if device.type == "cuda":
        rows = [step_time(method, bits, str(device)) for method, bits in cases]
    else:
        rows = [isolated(step_time, method, bits, str(device)) for method, bits in cases]
    baseline = rows[0]["ms_per_step"]
    for row in rows:
        row["ratio_to_fp"] = round(row["ms_per_step"] / baseline, 2)
    return rows
