"""Converged full-precision parents: the models every chapter's quantized runs of the CPU profile start from.

A quantized model fine-tuned from an underfit parent measures how fast a method recovers from the first
quantization shock, not the drop a paper reports; the papers start from converged models (91.5-92.6 % on official
CIFAR-10). Under ``lite`` (a 2-core CPU) a parent is the scoreboard's first full-precision run (20 epochs of SGD,
lr 0.1, cosine; 85.7 % on cifar10-jpeg) continued by a second cosine cycle of the same recipe from its weights (a
warm restart, Loshchilov & Hutter, SGDR, ICLR 2017), so the 20 epochs already recorded are reused, not repeated.
The pre-activation ResNet-20's mean over seeds ended that second cycle under the top-1 a converged model of
cifar10-jpeg reaches (``report.parents.BAR``; its records say by how much), with its training top-1 still rising:
it gets a third cycle of the same recipe (``EXTRA_CYCLES``). One parent per architecture and seed;
every chapter's seed ``s`` starts from parent seed ``s``. Their records live under the scoreboard's folder, whose
protocol is "every method from the same converged parent".
"""
from __future__ import annotations

from typing import Any

from ..config import Schedule, TrainConfig

CHAPTER_NAME = "scoreboard"
FIRST_EPOCHS, CONTINUED_EPOCHS = 20, 60  # the first cosine cycle and the warm restart that continues it
EXTRA_CYCLES = {"preact_resnet20": (60,)}  # more warm restarts of the same recipe, per architecture
BATCH_SIZE = 128


def full_precision_schedule(epochs: int) -> Schedule:
    """SGD with momentum 0.9, lr 0.1, weight decay 5e-4 and a cosine schedule over ``epochs``, batch 128."""
    return Schedule(epochs=epochs, batch_size=BATCH_SIZE, optimizer="sgd", lr=0.1, momentum=0.9,
                    weight_decay=5e-4, lr_schedule="cosine")


def cycles(arch: str) -> tuple[int, ...]:
    """The epochs of each cosine cycle of ``arch``'s converged parent, the first from scratch, each later one a warm
    restart from the weights of the one before."""
    return (FIRST_EPOCHS, CONTINUED_EPOCHS, *EXTRA_CYCLES.get(arch, ()))


def converged(arch: str, arch_options: dict[str, Any], data: str, seed: int, profile: str = "lite") -> TrainConfig:
    """The converged full-precision ``arch`` of ``seed`` on ``data``: ``cycles(arch)``, the first from scratch."""
    config = None
    for epochs in cycles(arch):
        config = TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch, schedule=full_precision_schedule(epochs),
                             arch_options=arch_options, init=config, seed=seed, profile=profile)
    return config
