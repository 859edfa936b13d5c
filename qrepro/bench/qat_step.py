"""Training-step time and peak memory of ResNet-20 on 32x32 inputs, batch 128: full precision vs every
quantizer of the package in quantization-aware training.

The figure is the ratio of a quantization-aware step to the full-precision step of the same model, data and
batch, i.e. what fake quantization costs (targets: <= 1.3x on CPU, <= 1.2x on a GPU). Each quantizer runs at
its lowest bit-width; SQ at ratio 0.5 (selection and hybrid weights every step). PD-QAT's pre-activation
model with one BatchNorm per precision is compared with the same model in full precision. Steps run as ``fit``
runs them on CIFAR-shaped data: channels_last on a CPU; every case in fp32 and, where the device has native bf16
(CUDA, or a CPU with AVX512-BF16 or AMX), under bf16 autocast too, each against the full-precision step of the same
precision (the ``precision`` column; runs train in bf16 there). On a CPU each case runs in a
fresh process (its peak memory its own), in ``ROUNDS`` interleaved rounds over the cases, and its time is the
median of the rounds' medians, so that a drifting machine load biases no case; ``ratio_range`` is the lowest and
highest ratio of one round (the case against the full-precision step of the same round). On a shared host the
quantizers' memory-bound element-wise passes slow down more than the convolutions when the host is busy, so the
range is part of the result.

On a CPU every case also runs in the training precision with ``QREPRO_KERNELS=eager`` (``eager_ms_per_step``), and
``kernels_gain`` is the eager step's time over the step with the compiled kernels: what the fused CPU kernels
(``quantizers/ops.py``) earn on the training path the lite runs use.
"""
from __future__ import annotations

import os
import statistics

import torch

from ..methods import METHODS
from ..methods.sq import SQ_DEFAULTS
from ..config import Schedule, TrainConfig
from ..profiles import channels_last_for, native_bf16
from ..runs.build import CIFAR10_SHAPE, trainable
from ..train import train_step
from .measure import isolated, time_steps

BATCH, SIZE, ROUNDS = 128, 32, 3
PREACT = {"width": 1}
# (label, method, bits, arch, arch_options, options)
CASES = [
    ("fp", "fp", 32, "resnet20", {}, {}),
    ("apot", "apot", 2, "resnet20", {}, {}),
    ("bwn", "bwn", 1, "resnet20", {}, {}),
    ("twn", "twn", 2, "resnet20", {}, {}),
    ("ttq", "ttq", 2, "resnet20", {}, {}),
    ("sq-twn", "twn", 2, "resnet20", {}, {"ratio": 0.5, **SQ_DEFAULTS}),
    ("inq", "inq", 3, "resnet20", {}, {"partition": "magnitude", "step": 0.5}),
    ("elq", "elq", 2, "resnet20", {}, {"partition": "band", "step": 0.2}),
    ("fp (pre-activation)", "fp", 32, "preact_resnet20", {**PREACT, "bit_widths": [32]}, {}),
    ("dorefa (pre-activation)", "dorefa", 2, "preact_resnet20", {**PREACT, "bit_widths": [2]}, {}),
    ("pdqat (pre-activation)", "pdqat", 2, "preact_resnet20", {**PREACT, "bit_widths": [2, 32]},
     {"constraint": "output", "epsilon": 0.7}),
]


def precisions(device: torch.device) -> tuple[str, ...]:
    """The training precisions a device runs: fp32, and bf16 where it has native bf16."""
    return ("fp32", "bf16") if native_bf16(device.type) else ("fp32",)


def step_time(method: str, bits: int, arch: str, arch_options: dict, options: dict, device_name: str,
              precision: str, kernels: str | None = None) -> dict:
    """Seconds per SGD step (forward, backward, update) of ``method`` at ``bits`` in ``precision``, with
    ``QREPRO_KERNELS=kernels`` when given (set in this process: call it isolated); peak CUDA memory."""
    if kernels:
        os.environ["QREPRO_KERNELS"] = kernels
    device = torch.device(device_name)
    torch.manual_seed(0)
    config = TrainConfig(chapter="bench", data="cifar10", arch=arch, schedule=Schedule(epochs=1), method=method,
                         bits=bits, options=options, arch_options=arch_options)
    METHODS[method].check(config)
    model, objective, _ = trainable(config, CIFAR10_SHAPE)
    layout = torch.channels_last if channels_last_for(config.data, device.type) else torch.contiguous_format
    model.to(device, memory_format=layout)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 3, SIZE, SIZE, device=device).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (BATCH,), device=device)

    def step() -> None:
        train_step(model, objective, optimizer, x, y, device, amp=precision == "bf16")

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    row = {"ms_per_step": round(time_steps(step, device) * 1000, 2)}
    if device.type == "cuda":
        row["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def run(device: torch.device) -> list[dict]:
    rounds = 1 if device.type == "cuda" else ROUNDS
    training = precisions(device)[-1]  # the precision runs train in on this device
    eager = {training} if device.type == "cpu" else set()  # the kernels are CPU kernels
    measured: dict[tuple[str, str], list[dict]] = {(label, precision): [] for precision in precisions(device)
                                                   for label, *_ in CASES}
    eager_measured: dict[str, list[dict]] = {label: [] for label, *_ in CASES}
    for _ in range(rounds):
        for precision in precisions(device):
            for label, method, bits, arch, arch_options, options in CASES:
                args = (method, bits, arch, arch_options, options, str(device), precision)
                result = step_time(*args) if device.type == "cuda" else isolated(step_time, *args)
                measured[(label, precision)].append(result)
                if precision in eager:
                    eager_measured[label].append(isolated(step_time, *args, "eager"))
    rows = []
    for precision in precisions(device):
        for label, method, bits, arch, _, _ in CASES:
            runs = measured[(label, precision)]
            row = {"case": label, "precision": precision, "method": method, "bits": bits, "arch": arch, **runs[0]}
            row["ms_per_step"] = statistics.median(m["ms_per_step"] for m in runs)
            if "peak_rss_mib" in row:
                row["peak_rss_mib"] = max(m["peak_rss_mib"] for m in runs)
            rows.append(row)
    baselines = {(row["arch"], row["precision"]): row for row in rows if row["method"] == "fp"}
    for row in rows:
        fp = baselines[(row["arch"], row["precision"])]
        row["ratio_to_fp"] = round(row["ms_per_step"] / fp["ms_per_step"], 2)
        per_round = [case["ms_per_step"] / base["ms_per_step"]
                     for case, base in zip(measured[(row["case"], row["precision"])],
                                           measured[(fp["case"], row["precision"])])]
        row["ratio_range"] = f"{min(per_round):.2f}-{max(per_round):.2f}"
        if row["precision"] == "bf16":
            fp32 = statistics.median(m["ms_per_step"] for m in measured[(row["case"], "fp32")])
            row["bf16_speedup"] = round(fp32 / row["ms_per_step"], 2)
        if row["precision"] in eager:
            row["eager_ms_per_step"] = statistics.median(m["ms_per_step"] for m in eager_measured[row["case"]])
            row["kernels_gain"] = round(row["eager_ms_per_step"] / row["ms_per_step"], 2)
    return rows
