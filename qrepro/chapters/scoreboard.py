"""The cross-paper scoreboard: every method of the package on one model, one data set and one schedule.

ResNet-20 (option A) at 2/3/4 bits for the multi-bit methods (APoT, DoReFa, INQ) and the post-training
ones (GPFQ, MSQ); VGG-9 (the SQ paper's) at 1 and 2 bits for binary and ternary weights (BWN, TWN, TTQ, ELQ,
SQ-BWN, SQ-TWN); under the CPU profile ``lite`` these run on ResNet-20 as well. Each architecture's full-precision
model is trained once per seed; every quantized model
starts from it and trains with the same optimizer and learning-rate schedule for the same budget of epochs.
Methods that train in stages (SQ's ratios, INQ's and ELQ's frozen partitions) split that budget over their
stages (at least one epoch each). Post-training methods quantize the same full-precision model.

PD-QAT trains one set of weights at b and 32 bits, which needs its pre-activation ResNet-20 with one
BatchNorm per bit-width: its row uses that model (width 1), its own full-precision model of the same
architecture, and the same schedule, and says so in the table.

Under ``lite`` each architecture's full-precision model is the converged one every lite chapter shares
(``qrepro.chapters.parents``), and every quantized model fine-tunes from it for the same budget of 8 epochs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import PTQConfig, Schedule, TrainConfig
from ..methods import get_method
from ..profiles import get_profile, resolve_data
from . import parents
from .base import Chapter, ChapterParams, Entry

CHAPTER_NAME = "scoreboard"
# (full-precision epochs, quantization budget in epochs, batch size, calibration images per layer) per profile.
# lite starts from the converged parents (qrepro.chapters.parents: 20 + 60 epochs) and gives every quantized model
# 8 epochs, 2 per stage of SQ and INQ; ELQ's 7 partitions split them (2, 1, 1, 1, 1, 1, 1).
PROFILE_SCHEDULE = {"smoke": (6, 3, 64, 128), "lite": (parents.CONTINUED_EPOCHS, 8, 128, 256),
                    "quick": (60, 30, 128, 256), "paper": (200, 100, 128, 256)}
# lite runs the binary and ternary rows on ResNet-20 too: VGG-9 costs about 4x ResNet-20's multiply-adds per
# image (155 M against 40.6 M), too slow for the whole protocol on a 2-core CPU
ARCH_BY_PROFILE = {"lite": {"vgg9": "resnet20"}}
# lite runs the multi-bit methods at 2 and 4 bits only (binary and ternary ones at their own bit-width)
BITS_BY_PROFILE = {"lite": (1, 2, 4)}
def entries() -> tuple[Entry, ...]:
    """Every chapter's scoreboard rows, chapter by chapter (in the order qrepro.chapters lists them)."""
    from . import CHAPTERS  # the package lists this module too: read it once every chapter is imported

    return tuple(dataclasses.replace(entry, chapter=name) for name, chapter in CHAPTERS.items()
                 for entry in chapter.scoreboard)


@dataclass(frozen=True)
class Cell:
    """One (entry, bit-width, seed) of the scoreboard: the run that reports it and its full-precision model."""

    entry: Entry
    bits: int
    seed: int
    config: TrainConfig | PTQConfig
    baseline: TrainConfig


def schedule(epochs: int, batch_size: int, full_precision: bool) -> Schedule:
    """SGD with momentum and a cosine schedule: lr 0.1 / wd 5e-4 from scratch, lr 0.01 / wd 1e-4 from a model."""
    lr, weight_decay = (0.1, 5e-4) if full_precision else (0.01, 1e-4)
    return Schedule(epochs=epochs, batch_size=batch_size, optimizer="sgd", lr=lr, momentum=0.9,
                    weight_decay=weight_decay, lr_schedule="cosine")


def method_options(entry: Entry, bits: int) -> dict[str, Any]:
    """The entry's fixed options plus what its method takes at the bit-width (``Method.scoreboard_options``)."""
    return {**entry.options, **get_method(entry.method).scoreboard_options(bits)}


def arch_options(entry: Entry, bits: int | None, model: str) -> dict[str, Any]:
    """The entry's model options plus what its method needs of ``model`` at ``bits`` (None: the full-precision model
    it starts from), e.g. PD-QAT's one BatchNorm per precision it runs at."""
    method = get_method("fp" if bits is None else entry.method)
    return {**entry.arch_options, **method.arch_options(model, 32 if bits is None else bits)}


def arch(entry: Entry, profile: str) -> str:
    """The model an entry runs on under ``profile`` (its own, except where the profile substitutes one)."""
    return ARCH_BY_PROFILE.get(profile, {}).get(entry.arch, entry.arch)


def entry_bits(entry: Entry, profile: str) -> tuple[int, ...]:
    """The bit-widths an entry runs at under ``profile``."""
    allowed = BITS_BY_PROFILE.get(profile)
    return tuple(b for b in entry.bits if allowed is None or b in allowed)


def full_precision(entry: Entry, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """The full-precision model a cell starts from: trained once per seed by the profile's schedule, or under lite
    the converged parent of the entry's architecture."""
    if profile == "lite":
        model = arch(entry, profile)
        return parents.converged(model, arch_options(entry, None, model), data, seed, profile)
    fp_epochs, _, batch_size, _ = PROFILE_SCHEDULE[profile]
    return TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch(entry, profile),
                       schedule=schedule(epochs or fp_epochs, batch_size, full_precision=True),
                       arch_options=arch_options(entry, None, arch(entry, profile)), seed=seed, profile=profile)


def split_budget(epochs: int, stages: int) -> list[int]:
    """Epochs per stage, summing to ``epochs`` (earlier stages take the remainder), at least one each."""
    return [max(1, epochs // stages + (i < epochs % stages)) for i in range(stages)]


def cell(entry: Entry, bits: int, profile: str, data: str, epochs: int, seed: int) -> Cell:
    """The chain of runs behind one scoreboard number, ending with the run that reports it."""
    baseline = full_precision(entry, profile, data, epochs, seed)
    _, budget, batch_size, calibration = PROFILE_SCHEDULE[profile]
    if entry.post_training:  # the method's defaults (GPFQ's: the official scalar), on our baseline
        run = get_method(entry.method).scoreboard_config(baseline, bits, calibration, CHAPTER_NAME)
        return Cell(entry, bits, seed, run, baseline)
    options, run, model = method_options(entry, bits), baseline, arch(entry, profile)
    for stage, stage_epochs in zip(entry.stages, split_budget(epochs or budget, len(entry.stages))):
        base = schedule(stage_epochs, batch_size, full_precision=False)
        stage_schedule = dataclasses.replace(base, group_overrides=get_method(entry.method).param_groups(base.lr))
        run = TrainConfig(chapter=CHAPTER_NAME, data=data, arch=model, schedule=stage_schedule, method=entry.method,
                          bits=bits, options={**options, **stage}, arch_options=arch_options(entry, bits, model),
                          init=run, seed=seed, profile=profile)
    return Cell(entry, bits, seed, run, baseline)


def profile_data(profile: str, data: str) -> str:
    """The data set of a profile's scoreboard: ``data`` for CIFAR-10 profiles, digits (or ``data``) for smoke."""
    return resolve_data(profile, "" if profile == "smoke" and data.split("-")[0] == "cifar10" else data)


@dataclass(frozen=True)
class Params(ChapterParams):
    PROFILES: ClassVar[tuple[str, ...]] = tuple(PROFILE_SCHEDULE)


def plan(params: Params) -> list[Cell]:
    """Every scoreboard cell for a profile: each entry at each of its bit-widths, for each seed, cheapest numbers
    first: per seed, the post-training cells (minutes, once the full-precision model exists), then the trained
    ones, those on a model of their own (PD-QAT's) last."""
    profile = get_profile(params.profile).name
    data = profile_data(profile, params.data)
    cells = [cell(entry, bits, profile, data, params.epochs, seed)
             for seed in range(params.seeds) for entry in entries() for bits in entry_bits(entry, profile)]
    main_arch = cells[0].baseline.arch
    return sorted(cells, key=lambda c: (c.seed, c.config.arch != main_arch, not c.entry.post_training))


CHAPTER = Chapter(CHAPTER_NAME, Params, plan, gpu_plan=((2, {}),), rank=4)
