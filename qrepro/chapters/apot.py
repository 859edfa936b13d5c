"""The APoT chapter: the progressive 32 -> 4 -> 3 -> 2 bit runs of the official CIFAR-10 recipe.

Each bit-width is a full training run initialized from the next-higher one (5 from 32), with the official
per-stage learning rate and weight decay (yhhhli/APoT_Quantization CIFAR10/train_res20.sh, train_res56.sh) and
the clipping values in their own parameter groups, decayed x0.1 at 50 % and 75 % of the epochs (150 and 225 of
300). The method itself is ``qrepro.methods.apot``.

``lite`` (a 2-core CPU) keeps the protocol at a twentieth of its length and starts from the converged
full-precision ResNet-20 every lite chapter shares (``qrepro.chapters.parents``): option-A shortcuts, its own
stem and classifier in full precision, instead of the official 32-bit stage (shortcut B, 8-bit stem and
classifier). The progression 4 -> 3 -> 2, the per-stage hyper-parameters and the alpha groups are the official ones.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import Schedule, TrainConfig
from ..methods.apot import ALPHA_GROUPS, BITS
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from . import parents
from .base import WEIGHTS_AND_ACTIVATIONS, Chapter, ChapterParams, Entry, Reference, Run
from .reference import apot as reference

CHAPTER_NAME = "apot"
PARENT = {32: None, 5: 32, 4: 32, 3: 4, 2: 3}  # progressive initialization
# (learning rate, weight decay) per stage: official train_res20.sh / train_res56.sh (5 bits: as 4 bits)
STAGE_HPARAMS = {32: (0.1, 5e-4), 5: (0.04, 1e-4), 4: (0.04, 1e-4), 3: (0.04, 1e-4), 2: (0.04, 3e-5)}
OFFICIAL_ARCH_OPTIONS = {"shortcut": "B"}  # the official model quantizes a 1x1 shortcut (option B)
ARCHS = ("resnet20", "resnet32", "resnet56")


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile changes in the chapter: lengths, batch size and the model's shortcut, never the protocol."""

    fp_epochs: int  # the full-precision stage (lite: the converged parent's second cycle)
    stage_epochs: int  # every quantized stage
    batch_size: int
    arch_options: Mapping[str, Any] = field(default_factory=lambda: OFFICIAL_ARCH_OPTIONS)


SETTINGS = {
    "smoke": ProfileSettings(fp_epochs=12, stage_epochs=6, batch_size=64),
    # lite's converged parent has option A's parameter-free shortcut
    "lite": ProfileSettings(fp_epochs=parents.CONTINUED_EPOCHS, stage_epochs=15, batch_size=128, arch_options={}),
    "quick": ProfileSettings(fp_epochs=60, stage_epochs=40, batch_size=128),
    "paper": ProfileSettings(fp_epochs=300, stage_epochs=300, batch_size=128),
}


@dataclass(frozen=True)
class Params(ChapterParams):
    bit: str | int = "4,3,2"  # bit-widths to show, among 5, 4, 3, 2 (each trained from the next-higher one)
    arch: str = "resnet20"  # resnet20 | resnet32 | resnet56

    SETTINGS: ClassVar[Mapping[str, ProfileSettings]] = SETTINGS

    def check(self) -> None:
        _ = self.bits  # parses and checks the list
        expect("arch", self.arch, str, choices=ARCHS)
        if self.profile == "lite" and self.arch != "resnet20":
            raise ValueError(f"profile lite starts from the converged full-precision resnet20; arch={self.arch!r} "
                             "has no converged parent on the CPU (use profile quick or paper on a GPU)")

    @property
    def bits(self) -> list[int]:
        return parse_list(self.bit, int, "bit", choices=BITS[1:])


def stage_schedule(bits: int, profile: str, epochs: int = 0) -> Schedule:
    """The official per-stage hyper-parameters with the profile's length (``epochs`` > 0 overrides it)."""
    settings = SETTINGS[get_profile(profile).name]
    n = epochs or (settings.fp_epochs if bits == 32 else settings.stage_epochs)
    lr, weight_decay = STAGE_HPARAMS[bits]
    return Schedule(
        epochs=n, batch_size=settings.batch_size, optimizer="sgd", lr=lr, momentum=0.9, weight_decay=weight_decay,
        lr_schedule="step", milestones=(n // 2, n * 3 // 4), gamma=0.1,
        group_overrides=ALPHA_GROUPS if bits != 32 else {},
    )


def stage_config(bits: int, arch: str, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """The run for ``bits``, with its chain of parents down to the full-precision model as ``init``."""
    if bits == 32 and profile == "lite":
        return parents.converged(arch, {}, data, seed)
    parent = PARENT[bits]
    return TrainConfig(
        chapter=CHAPTER_NAME, data=data, arch=arch, schedule=stage_schedule(bits, profile, epochs), method="apot",
        bits=bits, arch_options=dict(SETTINGS[get_profile(profile).name].arch_options),
        init=stage_config(parent, arch, profile, data, epochs, seed) if parent else None, seed=seed, profile=profile,
    )


def plan(params: Params) -> list[Run]:
    """Every run the chapter needs for the requested bit-widths: each with its parents, parents first."""
    data = resolve_data(params.profile, params.data)
    needed: set[int] = set()
    for b in params.bits:
        while b is not None:
            needed.add(b)
            b = PARENT[b]
    order = [b for b in BITS if b in needed]  # 32 first, then descending: parents precede children
    return [Run(stage_config(b, params.arch, params.profile, data, params.epochs, seed))
            for seed in range(params.seeds) for b in order]


CHAPTER = Chapter(CHAPTER_NAME, Params, plan, reference=Reference(reference.ROWS, reference.SOURCES),
                  scoreboard=(Entry("APoT", "apot", "resnet20", (2, 3, 4), WEIGHTS_AND_ACTIVATIONS),),
                  gpu_plan=((0, {"bit": "4,3,2"}), (1, {"bit": "4,3,2", "seeds": 3})), rank=0)
