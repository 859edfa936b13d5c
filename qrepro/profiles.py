"""Run profiles: how much compute a chapter spends, and on which data set by default.

- smoke: the embedded digits data, CPU, seconds per run. CI, tests and a new user's first book build.
- quick: CIFAR-10, a shortened schedule, minutes on one GPU.
- paper: the paper's own schedule.

Each chapter's algorithm module maps a profile to its schedules; every table says which profile and data
set its numbers come from.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    default_data: str
    # re-run a record made by other package source instead of showing it flagged as made by older code;
    # only for profiles cheap enough that a re-run costs seconds
    rerun_stale: bool
    description: str
    # CPU threads for its runs (None: torch's default). Smoke models are so small that a second thread only adds
    # synchronization, and costs 5-20x when the other core is busy (measured on a shared 2-core machine)
    cpu_threads: int | None = None


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "digits", True, "digits (8x8, scikit-learn), CPU, seconds per run", cpu_threads=1),
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
