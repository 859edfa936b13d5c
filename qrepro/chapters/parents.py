"""Converged full-precision parents: the models every chapter's quantized runs of the CPU profile start from.

A quantized model fine-tuned from an underfit parent measures how fast a method recovers from the first
quantization shock, not the drop a paper reports; the papers start from converged models (91.5-92.6 % on official
CIFAR-10). Under ``lite`` (a 2-core CPU) a parent is the scoreboard's first full-precision run (20 epochs of SGD,
lr 0.1, cosine; 85.7 % on cifar10-jpeg) continued by a second cosine cycle of the same recipe from its weights (a
warm restart, Loshchilov & Hutter, SGDR, ICLR 2017), so the 20 epochs already recorded are reused, not repeated.
One parent per architecture and seed; every chapter's seed ``s`` starts from parent seed ``s``. Their records live
under the scoreboard's folder, whose protocol is "every method from the same converged parent".
"""
from __future__ import annotations

from typing import Any

from ..config import Schedule, TrainConfig

CHAPTER_NAME = "scoreboard"
FIRST_EPOCHS, CONTINUED_EPOCHS = 20, 60  # the first cosine cycle and the warm restart that continues it
BATCH_SIZE = 128


def full_precision_schedule(epochs: int) -> Schedule:
    """SGD with momentum 0.9, lr 0.1, weight decay 5e-4 and a cosine schedule over ``epochs``, batch 128."""
    return Schedule(epochs=epochs, batch_size=BATCH_SIZE, optimizer="sgd", lr=0.1, momentum=0.9,
                    weight_decay=5e-4, lr_schedule="cosine")


def converged(arch: str, arch_options: dict[str, Any], data: str, seed: int, profile: str = "lite") -> TrainConfig:
    """The converged full-precision ``arch`` of ``seed`` on ``data``: ``FIRST_EPOCHS`` from scratch, then
    ``CONTINUED_EPOCHS`` more from those weights with the learning rate restarted."""
    first = TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch, schedule=full_precision_schedule(FIRST_EPOCHS),
                        arch_options=arch_options, seed=seed, profile=profile)
    return TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch, schedule=full_precision_schedule(CONTINUED_EPOCHS),
                       arch_options=arch_options, init=first, seed=seed, profile=profile)
