"""Run profiles: how much compute a chapter spends, and on which data set by default.

- smoke: the embedded digits data, CPU, seconds per run. CI, tests and a new user's first book build.
- lite: CIFAR-10 images (the cifar10-jpeg copy by default) on a schedule sized for a 2-core CPU, hours.
- quick: CIFAR-10, a shortened schedule, minutes on one GPU.
- paper: the paper's own schedule.

Each chapter's algorithm module maps a profile to its schedules; every table says which profile and data
set its numbers come from.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Profile:
    name: str
    default_data: str
    # re-run a record made by other package source instead of showing it flagged as made by older code;
    # only for profiles cheap enough that a re-run costs seconds
    rerun_stale: bool
    description: str


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "digits", True, "digits (8x8, scikit-learn), CPU, seconds per run"),
    "lite": Profile("lite", "cifar10-jpeg", False,
                    "CIFAR-10 images (cifar10-jpeg), a schedule for a 2-core CPU, hours"),
    "quick": Profile("quick", "cifar10", False, "CIFAR-10, shortened schedule, GPU minutes"),
    "paper": Profile("paper", "cifar10", False, "CIFAR-10, the paper's schedule"),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[name]


def resolve_data(profile: str, data: str | None) -> str:
    """The data set a run uses: ``data`` when given, else the profile's default."""
    return data or get_profile(profile).default_data


# Data sets whose models are so small that a second CPU thread only adds synchronization, and costs 5-20x when the
# other core is busy (measured on a shared 2-core machine), and channels_last gains nothing. Everything else uses
# every thread torch sees, and on a CPU the channels_last memory format.
TINY_DATA = ("digits",)


def threads_for(data: str) -> int | None:
    """CPU threads for a run on ``data``: $QREPRO_THREADS when set (e.g. 1 to leave a core to other work: the
    record's device names the count), else one for the tiny embedded data set and torch's default (None) for
    the rest."""
    if os.environ.get("QREPRO_THREADS"):
        threads = os.environ["QREPRO_THREADS"]
        if not threads.isdigit() or int(threads) < 1:
            raise ValueError(f"QREPRO_THREADS must be a whole number >= 1, got {threads!r}")
        cores = os.cpu_count() or 1
        if int(threads) > cores:
            warnings.warn(f"QREPRO_THREADS={threads} is more than this machine's {cores} CPU threads; using {cores}",
                          stacklevel=2)
            return cores
        return int(threads)
    return 1 if _base_data(data) in TINY_DATA else None


def _base_data(data: str) -> str:
    """The data set under its variants (``digits-val10`` -> ``digits``, ``cifar10-nocrop`` -> ``cifar10``)."""
    return data.removesuffix("-nocrop").split("-val")[0]


def channels_last_for(data: str, device_type: str) -> bool:
    """Whether a run trains in channels_last memory format: on a CPU for every data set but the tiny embedded one.
    Measured with ``make bench``'s epoch_cost (ResNet-20, 32x32, batch 128, 2 threads): steps 15-20 % faster for
    full precision, APoT, DoReFa and TWN alike; on 8x8 digits no gain. CUDA runs stay NCHW until measured there."""
    return device_type == "cpu" and _base_data(data) not in TINY_DATA


PRECISIONS = ("bf16", "fp32")


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` computes bf16 natively: CUDA, or a CPU on which oneDNN has bf16 kernels (AMX or
    AVX512-BF16), as oneDNN itself reports it."""
    if device_type == "cuda":
        return True
    return device_type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def precision_for(data: str, device_type: str) -> str:
    """The training precision of a run: "bf16" (autocast) or "fp32"; evaluation is always float32.

    $QREPRO_AMP=bf16|fp32 when set (bf16 on a device without native bf16 is an error), else bf16 where the device
    has it natively, except on the tiny embedded data set, whose 8x8 steps autocast only slows down. Measured on a
    2-core AMD EPYC with AVX512-BF16 (ResNet-20, batch 128, channels_last): 144 ms a step against 238 ms in fp32."""
    chosen = os.environ.get("QREPRO_AMP", "")
    if chosen:
        if chosen not in PRECISIONS:
            raise ValueError(f"QREPRO_AMP must be one of {', '.join(PRECISIONS)}, got {chosen!r}")
        if chosen == "bf16" and not native_bf16(device_type):
            raise ValueError(f"QREPRO_AMP=bf16, but this {device_type} has no native bf16 (oneDNN reports none): "
                             "unset it or use QREPRO_AMP=fp32")
        return chosen
    return "bf16" if native_bf16(device_type) and _base_data(data) not in TINY_DATA else "fp32"
