"""Does bf16 autocast train to the accuracy fp32 does? The same runs under both, top-1 after every epoch.

Two cases on cifar10-jpeg (the lite profile's data), each in fp32 and bf16 from seed 0 (everything but the
training precision equal) and in fp32 from seed 1 (the seed noise to read the first gap against), the evaluation
float32 in all:

- full-precision ResNet-20 from scratch, ``EPOCHS`` epochs of the lite parents' recipe (SGD, lr 0.1, cosine);
- APoT at 2 bits (its levels and clipping-value gradients are the most precision-sensitive of the package) from
  the 20-epoch lite parent of seed 0, ``EPOCHS`` epochs of APoT's 2-bit lite stage (lr 0.04, weight decay 3e-5,
  the official clipping-value groups).

Needs cifar10-jpeg and, on a device without native bf16, runs bf16 emulated (slower, the same arithmetic). The
rows are what the Reproduce page plots side by side; a gap between the curves larger than seed noise would mean
the precision changes results.
"""
from __future__ import annotations

import dataclasses

import torch

from ..chapters import apot, parents
from ..config import TrainConfig
from ..runs.build import trainable
from ..runs.execute import load_data
from ..runs.store import find_record, weights_path
from ..runs.weights import Parent
from ..train import fit

EPOCHS = 3
DATA = "cifar10-jpeg"
# (precision, seed): fp32 and bf16 from the same seed, and fp32 from a second seed, whose distance from the first
# is the seed noise that the precisions' distance is read against
VARIANTS = (("fp32", 0), ("bf16", 0), ("fp32", 1))


def cases() -> list[tuple[str, TrainConfig]]:
    """(label, config): each trained ``EPOCHS`` epochs under fp32 and under bf16."""
    first = parents.converged("resnet20", {}, DATA, 0).init  # the 20-epoch lite parent of seed 0 (recorded)
    scratch = dataclasses.replace(first, schedule=parents.full_precision_schedule(EPOCHS))
    two_bit = dataclasses.replace(apot.stage_config(2, "resnet20", "lite", DATA, EPOCHS, 0), init=first)
    return [("full-precision ResNet-20 from scratch", scratch), ("APoT 2-bit from the 20-epoch parent", two_bit)]


def run(device: torch.device) -> list[dict]:
    data = load_data(DATA, None)
    rows = []
    for label, config in cases():
        parent = None
        if config.init is not None:
            record = find_record(config.init)
            if record is None:
                raise FileNotFoundError(f"{config.init.run_id} has no record here: this benchmark starts from it")
            parent = Parent(record, weights_path(config.init))
        for precision, seed in VARIANTS:
            torch.manual_seed(seed)
            model, objective, _ = trainable(config, data, parent)
            history = fit(model, data, config.schedule, device=device, seed=seed, objective=objective,
                          progress=False, amp=precision == "bf16", channels_last=device.type == "cpu")
            rows += [{"case": label, "precision": precision, "seed": seed, "epoch": h["epoch"],
                      "test_top1": h["test_top1"], "train_loss": round(h["train_loss"], 4),
                      "seconds": round(h["seconds"], 1)} for h in history]
    return rows
