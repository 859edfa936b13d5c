"""What a chapter is to the rest of the package: its parameters, the runs it plans, and its published numbers.

A chapter (one paper of the book) is one module with:

- ``Params``: a frozen dataclass of the notebook's parameters (scalars and strings, as papermill passes them),
  each field commented as in the notebook's ``parameters`` cell, checked in ``__post_init__``; its ``SETTINGS`` is
  the chapter's ``ProfileSettings`` per profile name (what a profile changes: lengths, batch sizes, models), and a
  chapter runs exactly the profiles it has settings for;
- ``plan(params)``: every number the chapter shows, as ``Planned`` items whose ``config`` is the run that reports
  it (``get_or_run`` runs each one's parents first);
- optionally ``followup(params, planned, records)``: a second phase planned from the first phase's records (e.g.
  a mixed-precision retraining ranked by the duals of its first phase; ``qrepro.runs.run_chapter`` calls
  it once every first-phase run is recorded);
- a ``Reference``: the paper's published numbers with their sources (``qrepro.report.paper_table`` reads them);
- its scoreboard rows: the paper's methods under the scoreboard's common protocol (``Entry``).

``CHAPTER = Chapter(...)`` ties these together; ``qrepro.chapters`` finds every module that defines one.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from ..config import PTQConfig, TrainConfig
from ..params import expect
from ..profiles import PROFILES

Config = TrainConfig | PTQConfig


@dataclass(frozen=True)
class ChapterParams:
    """The parameters every chapter takes (the tail of each notebook's parameters cell). A subclass lists its own
    first, sets ``SETTINGS`` to its settings per profile, and checks its fields in ``check``."""

    profile: str = "smoke"  # smoke (digits, CPU) | lite (CIFAR-10, 2-core CPU) | quick (GPU minutes) | paper
    data: str = ""  # empty: the data set of the profile; or e.g. cifar10-jpeg
    epochs: int = 0  # 0: the epochs of the profile
    seeds: int = 1  # seeds 0 .. seeds-1; tables show mean ± std

    SETTINGS: ClassVar[Mapping[str, Any]] = dict.fromkeys(PROFILES)  # the chapter's settings per profile name

    def __post_init__(self) -> None:
        expect("profile", self.profile, str, choices=tuple(self.SETTINGS))
        expect("data", self.data, str)
        expect("epochs", self.epochs, int, minimum=0)
        expect("seeds", self.seeds, int, minimum=1)
        for f in dataclasses.fields(self):  # a float field takes an int, as papermill infers "1" as an int
            value = getattr(self, f.name)
            if f.type in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        self.check()

    def check(self) -> None:
        """Raise a clear error for a value the chapter cannot run (the subclass's own fields)."""

    @property
    def progress(self) -> bool:
        """Progress bars for every profile but smoke, whose runs take seconds."""
        return self.profile != "smoke"


class Planned(Protocol):
    """One number a chapter shows: ``config`` is the run that reports it; the rest says where it goes."""

    @property
    def config(self) -> Config: ...


P = TypeVar("P", bound=Planned)


@dataclass(frozen=True)
class Run:
    """A planned run with its role: which part of the chapter (table, figure) and which row it fills."""

    config: Config
    part: str = "table"
    row: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)  # chapter facts a figure groups by


def unique(planned: Iterable[P]) -> list[P]:
    """The first planned item of each run, in order."""
    first: dict[str, P] = {}
    for p in planned:
        first.setdefault(p.config.run_id, p)
    return list(first.values())


def unique_configs(planned: Iterable[Planned]) -> list[Config]:
    """The planned runs' configs, each once, in order of first appearance."""
    return [p.config for p in unique(planned)]


@dataclass(frozen=True)
class Reference:
    """A paper's published numbers: rows (source, arch, data, method, bits, top1, ...) and a citation per source."""

    rows: Sequence[Mapping[str, Any]]
    sources: Mapping[str, str]


WEIGHTS_AND_ACTIVATIONS, WEIGHTS = "weights + activations", "weights"


@dataclass(frozen=True)
class Entry:
    """One row of the cross-paper scoreboard (qrepro.chapters.scoreboard): a method, the model it runs on, its
    bit-widths and fixed options. A chapter lists the rows of its paper's methods; ``chapter`` is filled in."""

    label: str
    method: str
    arch: str
    bits: tuple[int, ...]
    quantized: str  # WEIGHTS_AND_ACTIVATIONS or WEIGHTS
    options: dict[str, Any] = field(default_factory=dict)
    stages: tuple[dict[str, Any], ...] = ({},)  # per-stage options, run in order, each from the previous
    arch_options: dict[str, Any] = field(default_factory=dict)
    post_training: bool = False
    chapter: str = ""  # the chapter that reproduces the method's paper


@dataclass(frozen=True)
class Chapter:
    """One paper of the book (see the module docstring)."""

    name: str
    Params: type[ChapterParams]
    plan: Callable[[Any], Sequence[Planned]]
    followup: Callable[[Any, Sequence[Planned], list[dict[str, Any]]], Sequence[Planned]] | None = None
    reference: Reference | None = None
    scoreboard: tuple[Entry, ...] = ()  # the paper's methods on the scoreboard
    # the chapter's runs on a lent GPU (qrepro.plan), as (round, parameters): round 0 one seed of its headline rows,
    # round 1 three seeds, round 2 the rest; within a round chapters go by ``rank``, lowest (most valuable) first
    gpu_plan: tuple[tuple[int, Mapping[str, Any]], ...] = ()
    rank: int = 0

    def params(self, **values: Any) -> ChapterParams:
        """The chapter's parameters from names and values; an unknown name is a clear error naming the valid ones."""
        known = list(self.defaults())
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"chapter {self.name} has no parameter(s) {unknown}; valid: "
                             f"{', '.join([*known, *RUNTIME])}")
        return self.Params(**values)

    def defaults(self) -> dict[str, Any]:
        """Every parameter with its default, as the notebook's parameters cell lists them: the chapter's own first,
        then those every chapter takes."""
        fields = {f.name: f.default for f in dataclasses.fields(self.Params)}
        common = [f.name for f in dataclasses.fields(ChapterParams)]
        return {name: fields[name] for name in sorted(fields, key=common.__contains__)}


# where and how to run: part of every notebook's parameters cell, never of a config
RUNTIME: dict[str, Any] = {"data_root": "", "device": "auto"}
