"""The SQ chapter's runs, as chains: every number the chapter shows is the last run of a chain.

Rows of the paper-vs-ours table, per architecture in ``arch``: FWN, BWN, SQ-BWN, TWN, SQ-TWN, TTQ, SQ-TTQ (a
baseline is one run of the stage schedule, an SQ row the stage chain over ``ratios``). The seed project's
studies run on one architecture, ``study_arch``: the INQ, SQ-INQ, ELQ and SQ-ELQ rows (steps after the FWN
model), and the SQ chain of the first of BWN/TWN/TTQ asked for with each probability function and with
each granularity, the other settings as in the table. Every run trains on the data set without random-crop
augmentation (``<data>-nocrop``): the official SQ code only mirrors, and the seed does not augment at all.
The methods are ``qrepro.methods.sq`` (SQ over BWN/TWN/TTQ) and ``qrepro.methods.inq`` (INQ, ELQ).

An SQ row trains ``len(ratios)`` full stage schedules, four times its baseline's iterations; the "(SQ's epochs)"
rows give BWN and TWN that compute in one schedule, so the table tells SQ's gain from the extra compute. The
probability and granularity studies run for seed 0 only.

``lite`` (a 2-core CPU) runs the table on ResNet-20 only (the SQ paper's VGG-9 costs four times its multiply-adds)
and starts every chain from the converged full-precision ResNet-20 every lite chapter shares
(``qrepro.chapters.parents``; trained with random crops) instead of from scratch: FWN is that model. Its stage
schedule is the official ResNet-56 solver's shape (lr 0.1, x0.1 at 50 % and 75 %) at 8 epochs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import Schedule, TrainConfig
from ..data import NO_CROP
from ..methods import get_method
from ..methods.inq import ELQ_STEPS, INQ_STEPS, PARTITIONS
from ..methods.sq import DEFAULT_RATIOS, GRANULARITIES, PROBS, SELECTS, SQ_DEFAULTS
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from ..quantizers import TTQ
from ..quantizers.pow2 import INQ_BITS
from ..quantizers.ternary import TTQ_GRADIENTS, TWN_VARIANTS
from . import parents
from .base import WEIGHTS, Chapter, ChapterParams, Entry, Reference
from .reference import sq as reference

CHAPTER_NAME = "sq"

# The official solver each architecture follows (lenet5: a small network to exercise the chapter in tests).
SOLVER = {"vgg9": "vgg9", "resnet20": "resnet56", "resnet32": "resnet56", "resnet56": "resnet56",
          "lenet5": "resnet56"}
ARCHS = tuple(SOLVER)
# Official per-stage schedules (dongyp13 CIFAR/*/solver*.prototxt), in epochs of CIFAR-10's 50k images:
# VGG-9 100k iterations x batch 100 = 200 epochs, lr x0.1 every 15k iterations (every 15 % of the run);
# ResNet-56 64k iterations x batch 128 = 164 epochs, lr x0.1 at 32k and 48k (50 % and 75 %). Momentum 0.9,
# weight decay 1e-4, lr 0.1. quick keeps the shape at a fraction of the length; smoke is a digits epoch or
# two per run (the chapter makes about 70 runs; VGG-9 with its dropout learns little in one).
DECAY_AT = {"vgg9": tuple(0.15 * k for k in range(1, 7)), "resnet56": (0.5, 0.75)}
LITE_ARCHS = ("resnet20",)  # the architectures with a converged parent on the CPU (qrepro.chapters.parents)
OFFICIAL_BATCH = {"vgg9": 100, "resnet56": 128}
# INQ/ELQ per scheme: (lr, weight decay), the seed's main2.py; lr x0.5 every 2 epochs of a step; batch 100
STEP_HPARAMS = {"inq": (1e-3, 3e-4), "elq": (1e-2, 1e-4)}
STEP_BATCH = {"vgg9": 100, "resnet56": 100}


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile changes in the chapter: lengths, batch sizes and the table's models, never the protocol."""

    epochs: Mapping[str, int]  # one stage (one baseline run), per official solver
    step_epochs: int  # one INQ/ELQ partition step
    batch: Mapping[str, int] = field(default_factory=lambda: OFFICIAL_BATCH)  # per official solver
    step_batch: Mapping[str, int] = field(default_factory=lambda: STEP_BATCH)  # INQ/ELQ, per official solver
    archs: str = "vgg9,resnet20"  # the table's architectures (the ``arch`` parameter's default)


SETTINGS = {
    "smoke": ProfileSettings(epochs={"vgg9": 2, "resnet56": 1}, step_epochs=1, batch={"vgg9": 64, "resnet56": 32},
                             step_batch={"vgg9": 64, "resnet56": 32}),
    "lite": ProfileSettings(epochs={"vgg9": 8, "resnet56": 8}, step_epochs=2, archs=",".join(LITE_ARCHS)),
    "quick": ProfileSettings(epochs={"vgg9": 10, "resnet56": 10}, step_epochs=4),
    "paper": ProfileSettings(epochs={"vgg9": 200, "resnet56": 164}, step_epochs=4),
}
COMPUTE_MATCHED = ("bwn", "twn")  # the SQ paper's baselines, also trained for as many epochs as their SQ chain
METHODS = ("bwn", "twn", "ttq", "inq", "elq")
SQ_BASES = ("bwn", "twn", "ttq")
MATCHED = " (SQ's epochs)"  # the suffix of a compute-matched baseline's row
ROWS = ("FWN", "BWN", f"BWN{MATCHED}", "SQ-BWN", "TWN", f"TWN{MATCHED}", "SQ-TWN", "TTQ", "SQ-TTQ", "INQ", "SQ-INQ",
        "ELQ", "SQ-ELQ")


@dataclass(frozen=True)
class Chain:
    """One shown number: its runs in order, each initialized from the one before (the first from ``init``)."""

    group: str  # "table", "prob" or "granularity"
    arch: str
    row: str  # one of ROWS
    variant: str  # the compared setting ("softmax", "element", ...); "" in the table
    seed: int
    runs: tuple[TrainConfig, ...]

    @property
    def config(self) -> TrainConfig:
        return self.runs[-1]


@dataclass(frozen=True)
class Params(ChapterParams):
    method: str = "bwn,twn,ttq,inq,elq"  # baselines among bwn, twn, ttq, inq, elq
    sq: bool = True  # also the stochastic (SQ) variant of each
    prob: str = "linear"  # SQ selection probability: constant | linear | softmax | sigmoid
    granularity: str = "filter"  # SQ unit: layer | filter | element
    select: str = "quantized"  # what the roulette picks: quantized (paper) | full_precision (official code)
    ratios: str | float = "0.5,0.75,0.875,1"  # SQ ratio of each stage
    arch: str = ""  # table architectures among vgg9, resnet20, resnet32, resnet56 (empty: the profile's)
    study_arch: str = "resnet20"  # architecture of the INQ/ELQ rows and the probability/granularity studies
    twn: str = "official"  # TWN scale: official (per-channel alpha, SQ Caffe) | paper (per-layer alpha)
    threshold: float = 0.05  # TTQ threshold factor t between 0 and 1, Delta = t * max abs W
    wn_grad: str = "paper"  # TTQ gradient of W_n: paper (+sum) | official (-sum, the exact derivative)
    inq_bits: int = 5  # INQ bit-width (the INQ paper's headline: 5; the seed: 3)

    SETTINGS: ClassVar[Mapping[str, ProfileSettings]] = SETTINGS

    def check(self) -> None:
        parse_list(self.method, str, "method", choices=METHODS)
        archs = self.archs
        if self.profile == "lite" and not set(archs) | {self.study_arch} <= {"", *LITE_ARCHS}:
            raise ValueError(f"profile lite starts from a converged full-precision model, which exists for "
                             f"{', '.join(LITE_ARCHS)} only; got arch={self.arch!r}, study_arch={self.study_arch!r}")
        expect("sq", self.sq, bool)
        expect("prob", self.prob, str, choices=PROBS)
        expect("granularity", self.granularity, str, choices=GRANULARITIES)
        expect("select", self.select, str, choices=SELECTS)
        parse_ratios(self.ratios)
        expect("study_arch", self.study_arch, str, choices=("", *ARCHS))
        expect("twn", self.twn, str, choices=TWN_VARIANTS)
        expect("wn_grad", self.wn_grad, str, choices=TTQ_GRADIENTS)
        expect("threshold", self.threshold, float)
        TTQ(self.threshold, self.wn_grad)  # validates t in (0, 1)
        expect("inq_bits", self.inq_bits, int, choices=INQ_BITS)

    @property
    def archs(self) -> list[str]:
        """The table's architectures: ``arch``, or the profile's default when empty."""
        return parse_list(self.arch or SETTINGS[self.profile].archs, str, "arch", choices=ARCHS)


def milestones(epochs: int, fractions: tuple[float, ...]) -> tuple[int, ...]:
    """Epochs at which the lr drops: round(f * epochs) for each fraction, kept inside (0, epochs)."""
    return tuple(sorted({max(1, round(f * epochs)) for f in fractions} & set(range(1, epochs))))


def stage_schedule(arch: str, profile: str, epochs: int = 0) -> Schedule:
    """One SQ stage (or one baseline run): the official schedule at the profile's length (``epochs`` overrides)."""
    kind, settings = SOLVER[arch], SETTINGS[get_profile(profile).name]
    n = epochs or settings.epochs[kind]
    return Schedule(epochs=n, batch_size=settings.batch[kind], optimizer="sgd",
                    lr=0.1, momentum=0.9, weight_decay=1e-4, lr_schedule="step",
                    milestones=milestones(n, DECAY_AT[kind]), gamma=0.1)


def full_precision(arch: str, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """FWN: trained from scratch by the stage schedule, or under lite the converged parent (crop augmentation)."""
    if get_profile(profile).name == "lite":
        return parents.converged(arch, {}, data.removesuffix(NO_CROP), seed)
    return run_config("fp", {}, arch, profile, data, epochs, seed)


def run_config(method: str, options: dict[str, Any], arch: str, profile: str, data: str, epochs: int, seed: int,
               init: TrainConfig | None = None, length: int = 1) -> TrainConfig:
    """One training run of the chapter: ``method`` in fp/bwn/twn/ttq with ``options``, from ``init`` (lite: from
    the converged parent when None), over ``length`` times the stage schedule's epochs."""
    if init is None and method != "fp" and get_profile(profile).name == "lite":
        init = full_precision(arch, profile, data, epochs, seed)
    schedule = stage_schedule(arch, profile, length * (epochs or stage_schedule(arch, profile).epochs))
    groups = get_method(method).param_groups(schedule.lr)  # TTQ's learned scales
    if groups:
        schedule = dataclasses.replace(schedule, group_overrides=groups)
    return TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch, schedule=schedule, method=method,
                       bits={"fp": 32, "bwn": 1}.get(method, 2), options=options, init=init, seed=seed,
                       profile=profile)


def stage_chain(method: str, base_options: dict[str, Any], sq: dict[str, Any], ratios: tuple[float, ...],
                arch: str, profile: str, data: str, epochs: int, seed: int) -> tuple[TrainConfig, ...]:
    """The SQ stages of ``method``: one run per ratio, each initialized from the previous, the first from scratch."""
    stages: list[TrainConfig] = []
    for ratio in ratios:
        options = {**base_options, **sq, "ratio": ratio}
        stages.append(run_config(method, options, arch, profile, data, epochs, seed, stages[-1] if stages else None))
    return tuple(stages)


def parse_ratios(ratios: Any) -> tuple[float, ...]:
    """SQ stage ratios from "0.5,0.75,0.875,1": each in (0, 1], strictly increasing."""
    values = parse_list(ratios, float, "ratios")
    for r in values:
        if not 0 < r <= 1:
            raise ValueError(f"parameter ratios={ratios!r}: {r} is outside (0, 1]; SQ ratios are shares of "
                             "quantized units, e.g. 0.5,0.75,0.875,1")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"parameter ratios={ratios!r} must be strictly increasing, e.g. 0.5,0.75,0.875,1")
    return tuple(values)




def step_schedule(scheme: str, arch: str, profile: str, epochs: int = 0) -> Schedule:
    """One INQ/ELQ step: the seed's optimizer, lr x0.5 every 2 epochs (restarted every step)."""
    settings = SETTINGS[get_profile(profile).name]
    n = epochs or settings.step_epochs
    lr, weight_decay = STEP_HPARAMS[scheme]
    return Schedule(epochs=n, batch_size=settings.step_batch[SOLVER[arch]], optimizer="sgd", lr=lr, momentum=0.9,
                    weight_decay=weight_decay, lr_schedule="step", milestones=tuple(range(2, n, 2)), gamma=0.5)


def finish(scheme: str, step: float) -> dict[str, Any]:
    """ELQ's last band step (everything frozen at its end) recalibrates the BatchNorms for the frozen weights."""
    return {"recalibrate": True} if scheme == "elq" and step == ELQ_STEPS[-1] else {}


def step_chain(scheme: str, stochastic: dict[str, Any] | None, parent: TrainConfig, bits: int, profile: str,
               epochs: int, data: str = "") -> tuple[TrainConfig, ...]:
    """The steps of INQ/ELQ (or their stochastic variant with ``stochastic`` SQ options) after ``parent``, on
    ``data`` (empty: the parent's)."""
    if stochastic is not None:
        steps, base = INQ_STEPS, {"partition": "stochastic", **stochastic}
        for key in stochastic:
            if key not in SQ_DEFAULTS:
                raise ValueError(f"unknown stochastic partition option {key!r}; valid: {', '.join(SQ_DEFAULTS)}")
    else:
        steps, base = (INQ_STEPS if scheme == "inq" else ELQ_STEPS), {"partition": PARTITIONS[scheme][0]}
    chain: list[TrainConfig] = []
    for step in steps:
        chain.append(TrainConfig(
            chapter=CHAPTER_NAME, data=data or parent.data, arch=parent.arch,
            schedule=step_schedule(scheme, parent.arch, profile, epochs),
            method=scheme, bits=bits if scheme == "inq" else 2, options={**base, "step": step, **finish(scheme, step)},
            init=chain[-1] if chain else parent, seed=parent.seed, profile=profile))
    return tuple(chain)


def plan(params: Params) -> list[Chain]:
    """Every chain the chapter shows for these parameters (see the module docstring)."""
    p = params
    methods = parse_list(p.method, str, "method", choices=METHODS)
    archs = p.archs
    stages = parse_ratios(p.ratios)
    profile, epochs, study_arch, sq = p.profile, p.epochs, p.study_arch, p.sq
    data = resolve_data(profile, p.data).removesuffix(NO_CROP) + NO_CROP
    base_options = {"bwn": {}, "twn": {"variant": p.twn}, "ttq": {"threshold": p.threshold, "wn_grad": p.wn_grad}}
    settings = {"granularity": p.granularity, "prob": p.prob, "select": p.select}

    def sq_chain(group: str, variant: str, a: str, m: str, seed: int, **changed: str) -> Chain:
        runs = stage_chain(m, base_options[m], {**settings, **changed}, stages, a, profile, data, epochs, seed)
        return Chain(group, a, f"SQ-{m.upper()}", variant, seed, runs)

    chains: list[Chain] = []
    for seed in range(p.seeds):
        for a in archs:
            chains.append(Chain("table", a, "FWN", "", seed, (full_precision(a, profile, data, epochs, seed),)))
            for m in (m for m in methods if m in SQ_BASES):
                chains.append(Chain("table", a, m.upper(), "", seed,
                                    (run_config(m, base_options[m], a, profile, data, epochs, seed),)))
                if sq and m in COMPUTE_MATCHED:
                    longer = run_config(m, base_options[m], a, profile, data, epochs, seed, length=len(stages))
                    chains.append(Chain("table", a, f"{m.upper()}{MATCHED}", "", seed, (longer,)))
                if sq:
                    chains.append(sq_chain("table", "", a, m, seed))
        if not study_arch:
            continue
        fwn = full_precision(study_arch, profile, data, epochs, seed)
        if study_arch not in archs and any(m not in SQ_BASES for m in methods):
            chains.append(Chain("table", study_arch, "FWN", "", seed, (fwn,)))
        for m in (m for m in methods if m not in SQ_BASES):
            steps = step_chain(m, None, fwn, p.inq_bits, profile, epochs, data)
            chains.append(Chain("table", study_arch, m.upper(), "", seed, steps))
            if sq:
                steps = step_chain(m, settings, fwn, p.inq_bits, profile, epochs, data)
                chains.append(Chain("table", study_arch, f"SQ-{m.upper()}", "", seed, steps))
        base = next((m for m in methods if m in SQ_BASES), None)
        if sq and base and seed == 0:
            chains += [sq_chain("prob", prob, study_arch, base, seed, prob=prob) for prob in PROBS]
            chains += [sq_chain("granularity", g, study_arch, base, seed, granularity=g) for g in GRANULARITIES]
    return chains


SQ_STAGES = tuple({"ratio": r, **SQ_DEFAULTS} for r in DEFAULT_RATIOS)
INQ_STAGES = tuple({"partition": "magnitude", "step": s} for s in INQ_STEPS)
ELQ_STAGES = tuple({"partition": "band", "step": s, **finish("elq", s)} for s in ELQ_STEPS)
SCOREBOARD = (
    Entry("INQ", "inq", "resnet20", (2, 3, 4), WEIGHTS, stages=INQ_STAGES),
    Entry("BWN", "bwn", "vgg9", (1,), WEIGHTS),
    Entry("SQ-BWN", "bwn", "vgg9", (1,), WEIGHTS, stages=SQ_STAGES),
    Entry("TWN", "twn", "vgg9", (2,), WEIGHTS),
    Entry("SQ-TWN", "twn", "vgg9", (2,), WEIGHTS, stages=SQ_STAGES),
    Entry("TTQ", "ttq", "vgg9", (2,), WEIGHTS),
    Entry("ELQ", "elq", "vgg9", (2,), WEIGHTS, stages=ELQ_STAGES),
)
CHAPTER = Chapter(CHAPTER_NAME, Params, plan, reference=Reference(reference.ROWS, reference.SOURCES),
                  scoreboard=SCOREBOARD,
                  gpu_plan=((0, {"study_arch": ""}), (1, {"study_arch": "", "seeds": 3})), rank=1)
