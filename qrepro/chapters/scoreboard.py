"""The cross-paper scoreboard: every method of the package on one model, one data set and one schedule.

Its rows are the entries the chapters declare (``Chapter.scoreboard``: a method, its model, bit-widths and options),
each on the model its entry names: ResNet-20 (option A) for the multi-bit and post-training methods, VGG-9 for the
binary and ternary ones; under the CPU profile ``lite`` these run on ResNet-20 as well. Each architecture's
full-precision model is trained once per seed; every quantized model starts from it and trains with the same
optimizer and learning-rate schedule for the same budget of epochs. Methods that train in stages (ratios of
stochastic selection, frozen partitions) split that budget over their stages (at least one epoch each).
Post-training methods quantize the same full-precision model.

A method that trains one set of weights at b and 32 bits needs a model with one BatchNorm per bit-width (the
pre-activation ResNet-20): its row uses that model (width 1), its own full-precision model of the same
architecture, and the same schedule, and says so in the table.

Under ``lite`` each architecture's full-precision model is the converged one every lite chapter shares
(``qrepro.chapters.parents``), and every quantized model fine-tunes from it for the same budget of 8 epochs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import PTQConfig, Schedule, TrainConfig
from ..methods import get_method
from ..profiles import get_profile, resolve_data
from . import parents
from .base import Chapter, ChapterParams, Entry

CHAPTER_NAME = "scoreboard"


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile changes in the scoreboard: lengths, batch size, calibration, and which models and bit-widths
    a CPU affords."""

    fp_epochs: int  # the full-precision model of every cell (lite: the converged parent's second cycle)
    budget: int  # epochs of every quantized model, split over a method's stages
    batch_size: int
    calibration: int  # calibration images per layer of the post-training methods
    arch_swaps: Mapping[str, str] = field(default_factory=dict)  # an entry's model -> the model it runs on
    bits: tuple[int, ...] | None = None  # the bit-widths run (None: every entry's own)


SETTINGS = {
    "smoke": ProfileSettings(fp_epochs=6, budget=3, batch_size=64, calibration=128),
    # lite starts from the converged parents (qrepro.chapters.parents: cosine cycles of 20 + 60 epochs, or more) and
    # gives every quantized model 8 epochs, 2 per stage of a four-stage method; seven partitions split them (2, 1, 1,
    # 1, 1, 1, 1). It runs the binary and ternary rows on ResNet-20 too (VGG-9 costs about 4x ResNet-20's
    # multiply-adds per image, 155 M against 40.6 M, too slow for the whole protocol on a 2-core CPU), and the
    # multi-bit methods at 2 and 4 bits only.
    "lite": ProfileSettings(fp_epochs=parents.CONTINUED_EPOCHS, budget=8, batch_size=128, calibration=256,
                            arch_swaps={"vgg9": "resnet20"}, bits=(1, 2, 4)),
    "quick": ProfileSettings(fp_epochs=60, budget=30, batch_size=128, calibration=256),
    "paper": ProfileSettings(fp_epochs=200, budget=100, batch_size=128, calibration=256),
}


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
    it starts from), e.g. one BatchNorm per precision it runs at."""
    method = get_method("fp" if bits is None else entry.method)
    return {**entry.arch_options, **method.arch_options(model, 32 if bits is None else bits)}


def arch(entry: Entry, profile: str) -> str:
    """The model an entry runs on under ``profile`` (its own, except where the profile substitutes one)."""
    return SETTINGS[profile].arch_swaps.get(entry.arch, entry.arch)


def entry_bits(entry: Entry, profile: str) -> tuple[int, ...]:
    """The bit-widths an entry runs at under ``profile``."""
    allowed = SETTINGS[profile].bits
    return tuple(b for b in entry.bits if allowed is None or b in allowed)


def full_precision(entry: Entry, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """The full-precision model a cell starts from: trained once per seed by the profile's schedule, or under lite
    the converged parent of the entry's architecture."""
    if profile == "lite":
        model = arch(entry, profile)
        return parents.converged(model, arch_options(entry, None, model), data, seed, profile)
    settings = SETTINGS[profile]
    return TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch(entry, profile),
                       schedule=schedule(epochs or settings.fp_epochs, settings.batch_size, full_precision=True),
                       arch_options=arch_options(entry, None, arch(entry, profile)), seed=seed, profile=profile)


def split_budget(epochs: int, stages: int) -> list[int]:
    """Epochs per stage, summing to ``epochs`` (earlier stages take the remainder), at least one each."""
    return [max(1, epochs // stages + (i < epochs % stages)) for i in range(stages)]


def cell(entry: Entry, bits: int, profile: str, data: str, epochs: int, seed: int) -> Cell:
    """The chain of runs behind one scoreboard number, ending with the run that reports it."""
    baseline = full_precision(entry, profile, data, epochs, seed)
    settings = SETTINGS[profile]
    if entry.post_training:  # the method's defaults (e.g. its official alphabet scalar), on our baseline
        run = get_method(entry.method).scoreboard_config(baseline, bits, settings.calibration, CHAPTER_NAME)
        return Cell(entry, bits, seed, run, baseline)
    options, run, model = method_options(entry, bits), baseline, arch(entry, profile)
    for stage, stage_epochs in zip(entry.stages, split_budget(epochs or settings.budget, len(entry.stages))):
        base = schedule(stage_epochs, settings.batch_size, full_precision=False)
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
    SETTINGS: ClassVar[Mapping[str, ProfileSettings]] = SETTINGS


def plan(params: Params) -> list[Cell]:
    """Every scoreboard cell for a profile: each entry at each of its bit-widths, for each seed, cheapest numbers
    first: per seed, the post-training cells (minutes, once the full-precision model exists), then the trained
    ones, those on a model of their own last."""
    profile = get_profile(params.profile).name
    data = profile_data(profile, params.data)
    cells = [cell(entry, bits, profile, data, params.epochs, seed)
             for seed in range(params.seeds) for entry in entries() for bits in entry_bits(entry, profile)]
    main_arch = cells[0].baseline.arch
    return sorted(cells, key=lambda c: (c.seed, c.config.arch != main_arch, not c.entry.post_training))


CHAPTER = Chapter(CHAPTER_NAME, Params, plan, gpu_plan=((2, {}),), rank=4)
