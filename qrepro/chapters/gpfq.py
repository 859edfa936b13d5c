"""The GPFQ chapter: one full-precision model per profile and seed, quantized by GPFQ and MSQ in every sweep.

Always GPFQ and MSQ at (``bits``, ``scalar``, ``batch_size`` calibration images per layer); then per requested
sweep: bits 1..8 at ``scalar`` (GPFQ and MSQ), C = 1.00..2.00 step 0.05 (and ``scalar``) at ``bits`` (GPFQ and
MSQ), each ``lam`` with L1 and with L0 (GPFQ), the profile's calibration sizes (GPFQ), and bits 1..8 with conv
patches at the layer's own stride (GPFQ; the official code's are non-overlapping). The methods are
``qrepro.methods.gpfq``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import PTQConfig, Schedule, TrainConfig
from ..methods import get_method
from ..methods.base import EVAL_BATCH
from ..methods.gpfq import BITS, DEFAULT_SCALAR, GPFQOptions, check_scalar
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from . import parents
from .base import WEIGHTS, Chapter, ChapterParams, Entry, Reference, Run, unique
from .reference import gpfq as reference

CHAPTER_NAME = "gpfq"


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile changes in the chapter: the model, its full-precision training, and the calibration sizes."""

    arch: str
    schedule: Schedule
    calibration: int  # calibration images per layer of the headline runs (the seed's -bs)
    calibration_sizes: tuple[int, ...]  # the calibration-size sweep
    sweep_seeds: int = 0  # the sweeps besides bits run for seeds 0 .. sweep_seeds-1 only (0: every seed)


# The seed's ResNet-18 (torchvision layout, 3x3 stride-1 stem, max-pool kept) came pre-trained without its
# recipe; "quick" and "paper" train it with the common CIFAR recipe (SGD, momentum 0.9, lr 0.1, weight decay
# 5e-4, cosine, batch 128, crop + flip), "paper" for 200 epochs. "smoke": ResNet-20 on 8x8 digits, CPU.
FULL_PRECISION_RECIPE = Schedule(epochs=200, batch_size=128, lr=0.1, weight_decay=5e-4, lr_schedule="cosine")
CALIBRATION_SIZES = (32, 64, 128, 256, 512, 1024, 2048)
SETTINGS = {
    "smoke": ProfileSettings("resnet20", Schedule(epochs=8, batch_size=64, lr=0.05, weight_decay=5e-4,
                                                  lr_schedule="cosine"), 128, CALIBRATION_SIZES[:5]),
    # lite: the converged full-precision ResNet-20 every lite chapter shares (qrepro.chapters.parents; its schedule
    # is the parent's, not this one's)
    "lite": ProfileSettings("resnet20", parents.full_precision_schedule(parents.CONTINUED_EPOCHS), 256,
                            CALIBRATION_SIZES, sweep_seeds=1),
    "quick": ProfileSettings("resnet18", dataclasses.replace(FULL_PRECISION_RECIPE, epochs=30), 256, CALIBRATION_SIZES),
    "paper": ProfileSettings("resnet18", FULL_PRECISION_RECIPE, 256, CALIBRATION_SIZES),
}
SCALARS = tuple(round(1 + 0.05 * i, 2) for i in range(21))  # 1.00, 1.05, ..., 2.00 (the seed's grid)
SWEEP_NAMES = ("bits", "scalar", "lam", "calibration", "patches")

@dataclass(frozen=True)
class Params(ChapterParams):
    bits: int = 4  # bit-width of the headline runs, 1..8 (the alphabet has 2^b + 1 levels)
    scalar: float = DEFAULT_SCALAR  # alphabet scale C of the headline runs (official default 1.16)
    lam: str | float = "0.01,0.02,0.05,0.1"  # L1 / L0 thresholds of the sparsity sweep
    batch_size: int = 0  # calibration images per layer; 0: the profile's (smoke 128, else 256)
    arch: str = ""  # empty: the profile's model (smoke: resnet20, else resnet18)
    sweeps: str = "bits,scalar,lam,calibration,patches"  # which sweeps to run besides the headline runs, or none

    SETTINGS: ClassVar[Mapping[str, ProfileSettings]] = SETTINGS

    def check(self) -> None:
        expect("bits", self.bits, int, choices=BITS)
        if self.profile == "lite" and self.arch not in ("", "resnet20"):
            raise ValueError(f"profile lite quantizes the converged full-precision resnet20; arch={self.arch!r} has "
                             "no converged model on the CPU (use profile quick or paper on a GPU)")
        expect("scalar", self.scalar, float)
        check_scalar(self.scalar)
        if any(not value > 0 for value in self.lams):
            raise ValueError(f"parameter lam={self.lam!r}: every value must be > 0 (lam = 0 is plain GPFQ, always run)")
        expect("batch_size", self.batch_size, int, minimum=0)
        expect("arch", self.arch, str)
        chosen_sweeps(self.sweeps)

    @property
    def lams(self) -> list[float]:
        return parse_list(self.lam, float, "lam")


def fp_config(arch: str, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """The full-precision model every run of the chapter quantizes (ResNet-18 with the seed's max-pool; under lite
    the converged ResNet-20)."""
    if get_profile(profile).name == "lite":
        return parents.converged(arch, {}, data, seed)
    schedule = SETTINGS[profile].schedule
    if epochs:
        schedule = dataclasses.replace(schedule, epochs=epochs)
    return TrainConfig(chapter=CHAPTER_NAME, data=data, arch=arch, schedule=schedule,
                       arch_options={"maxpool": True} if arch == "resnet18" else {}, seed=seed, profile=profile)


def ptq_config(model: TrainConfig, method: str, bits: int, scalar: float, calibration: int,
               regularizer: str = "none", lam: float = 0.0, patches: str = "kernel") -> PTQConfig:
    """One post-training run of ``model``; MSQ takes only the scalar and no calibration data."""
    options: dict[str, Any] = {"scalar": scalar}
    if method == "gpfq":
        options |= {"regularizer": regularizer, "lam": lam, "retain_rate": GPFQOptions.retain_rate,
                    "patches": patches}
    return PTQConfig(chapter=CHAPTER_NAME, data=model.data, arch=model.arch, model=model, method=method, bits=bits,
                     options=options, calibration=calibration if get_method(method).calibrates else 0,
                     batch_size=EVAL_BATCH, seed=model.seed, profile=model.profile)


def calibration_size(profile: str, batch_size: int = 0) -> int:
    """Calibration images per layer of the headline runs: ``batch_size``, or the profile's default."""
    return batch_size or SETTINGS[get_profile(profile).name].calibration


def chosen_sweeps(sweeps: Any) -> list[str]:
    """The sweeps named in a comma-separated string ("none": only the headline runs)."""
    return [] if str(sweeps).strip() == "none" else parse_list(sweeps, str, "sweeps", choices=SWEEP_NAMES)


def plan(params: Params) -> list[Run]:
    """Every run of the chapter, full-precision models first, each run once (see the module docstring)."""
    p = params
    chosen, setup, bits, scalar, lams = chosen_sweeps(p.sweeps), SETTINGS[p.profile], p.bits, p.scalar, p.lams
    arch = p.arch or setup.arch
    data = resolve_data(p.profile, p.data)
    calibration = calibration_size(p.profile, p.batch_size)

    configs: list[TrainConfig | PTQConfig] = []
    for seed in range(p.seeds):
        model = fp_config(arch, p.profile, data, p.epochs, seed)
        runs = [ptq_config(model, m, bits, scalar, calibration) for m in ("gpfq", "msq")]
        if "bits" in chosen:
            runs += [ptq_config(model, m, b, scalar, calibration) for b in BITS for m in ("gpfq", "msq")]
        studies = {name for name in chosen if name != "bits"}
        if setup.sweep_seeds and seed >= setup.sweep_seeds:  # a CPU profile runs its studies at fewer seeds
            studies = set()
        if "scalar" in studies:
            runs += [ptq_config(model, m, bits, c, calibration) for c in sorted({*SCALARS, scalar})
                     for m in ("gpfq", "msq")]
        if "lam" in studies:
            runs += [ptq_config(model, "gpfq", bits, scalar, calibration, reg, value) for reg in ("L1", "L0")
                     for value in lams]
        if "calibration" in studies:
            runs += [ptq_config(model, "gpfq", bits, scalar, size) for size in sorted({*setup.calibration_sizes,
                                                                                     calibration})]
        if "patches" in studies:
            runs += [ptq_config(model, "gpfq", b, scalar, calibration, patches="conv") for b in BITS]
        configs += [model, *runs]
    return unique([Run(config) for config in configs])


SCOREBOARD = (Entry("GPFQ", "gpfq", "resnet20", (2, 3, 4), WEIGHTS, post_training=True),
              Entry("MSQ (round to nearest)", "msq", "resnet20", (2, 3, 4), WEIGHTS, post_training=True))
CHAPTER = Chapter(CHAPTER_NAME, Params, plan, reference=Reference(reference.ROWS, reference.SOURCES),
                  scoreboard=SCOREBOARD,
                  gpu_plan=((0, {"sweeps": "bits,scalar"}), (1, {"sweeps": "bits,scalar", "seeds": 3})), rank=3)
