"""What a profile's runs did, read from their configs: the protocol in a few lines and its deviations from the paper.

A page never describes a protocol in prose of its own: ``protocol`` lists, per role of the chapter (a table row, a
study), the schedule, the starting point and the data its runs have, and ``deviations`` puts each of those beside
the same role under the ``paper`` profile (the paper's protocol as the chapter implements it), one row per
difference. Both are computed from the configs the chapter plans, so they change when the configs do.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..chapters import chapter_of
from ..chapters.base import ChapterParams, Planned
from ..config import PTQConfig, TrainConfig

ROLE_FIELDS = ("group", "part", "row", "variant")  # what a chapter's planned item says of its place in the page


def role(planned: Planned) -> str:
    """A planned number's role, e.g. "table / baseline" or "table / output": its chapter fields, then its method and
    bit-width."""
    parts = [str(getattr(planned, name)) for name in ROLE_FIELDS if getattr(planned, name, "")]
    config = planned.config
    return " / ".join([*parts, f"{config.method} {config.bits}-bit"])


def _parent(config: TrainConfig | PTQConfig) -> TrainConfig | None:
    return config.model if isinstance(config, PTQConfig) else config.init


def segment(config: TrainConfig | PTQConfig) -> list[TrainConfig | PTQConfig]:
    """``config`` and the ancestors it continues with the same method and bit-width (a chain of stages, a schedule
    continued), first to last."""
    runs = [config]
    while (parent := _parent(runs[0])) is not None and (parent.method, parent.bits) == (config.method, config.bits):
        runs.insert(0, parent)
    return runs


def epochs(config: TrainConfig | PTQConfig) -> str:
    """The epochs of ``config``'s segment, e.g. "8 + 8 + 8 + 8" for four stages; "0" for a post-training run."""
    return " + ".join(str(c.schedule.epochs) if isinstance(c, TrainConfig) else "0" for c in segment(config))


def starting_point(config: TrainConfig | PTQConfig) -> str:
    """Where ``config``'s segment starts: "scratch", or the run before it (method, bit-width, model, epochs)."""
    parent = _parent(segment(config)[0])
    if parent is None:
        return "scratch"
    precision = "full precision" if parent.bits == 32 else f"{parent.bits}-bit"
    return f"{parent.method} {precision} {parent.arch}, {epochs(parent)} epochs"


def aspects(config: TrainConfig | PTQConfig) -> dict[str, str]:
    """The protocol of one run, aspect by aspect, as a reader compares it."""
    out = {"data set": config.data, "model": f"{config.arch} {_options(config_arch_options(config))}".strip(),
           "starts from": starting_point(config)}
    if isinstance(config, TrainConfig):
        s = config.schedule
        decay = {"cosine": "cosine", "constant": "constant",
                 "step": f"x{s.gamma:g} at epochs {', '.join(map(str, s.milestones)) or 'none'}"}[s.lr_schedule]
        out |= {"epochs": epochs(config), "optimizer": f"{s.optimizer}, lr {s.lr:g}, weight decay {s.weight_decay:g}",
                "learning-rate schedule": decay, "batch": str(s.batch_size)}
    else:
        out |= {"calibration images per layer": str(config.calibration)}
    return out


def config_arch_options(config: TrainConfig | PTQConfig) -> dict[str, Any]:
    return config.arch_options if isinstance(config, TrainConfig) else config.model.arch_options


def _options(options: dict[str, Any]) -> str:
    shown = {k: v for k, v in options.items() if k != "bit_widths"}  # bit_widths follow the method
    return f"({', '.join(f'{k} {v}' for k, v in sorted(shown.items()))})" if shown else ""


def _roles(planned: Sequence[Planned]) -> dict[str, TrainConfig | PTQConfig]:
    first: dict[str, TrainConfig | PTQConfig] = {}
    for p in planned:
        first.setdefault(role(p), p.config)
    return first


def protocol(params: ChapterParams) -> pd.DataFrame:
    """One row per role the chapter plans under ``params``: the aspects of its first run (``aspects``)."""
    roles = _roles(chapter_of(params).plan(params))
    return pd.DataFrame([{"role": name, **aspects(config)} for name, config in roles.items()])


def deviations(params: ChapterParams, reference_profile: str = "paper") -> pd.DataFrame:
    """How the runs of ``params`` differ from the same chapter's ``reference_profile`` (the paper's protocol): one
    row per (aspect, paper, here) with the roles it concerns; the architectures and bit-widths of the whole plan
    first. Computed from the two plans' configs."""
    chapter = chapter_of(params)
    values = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    theirs_params = chapter.Params(**{**values, "profile": reference_profile, "data": "", "epochs": 0})
    ours_plan, theirs_plan = chapter.plan(params), chapter.plan(theirs_params)
    rows = []
    for aspect, read in (("architectures", lambda c: c.arch), ("bit-widths", lambda c: c.bits)):
        ours, theirs = (", ".join(map(str, sorted({read(p.config) for p in plan})))
                        for plan in (ours_plan, theirs_plan))
        if ours != theirs:
            rows.append({"aspect": aspect, "paper": theirs, params.profile: ours, "roles": "all"})
    ours_roles, theirs_roles = _roles(ours_plan), _roles(theirs_plan)
    loose = {name.rsplit(" / ", 1)[0]: config for name, config in reversed(theirs_roles.items())}
    matched = {name: (config, theirs_roles.get(name) or loose.get(name.rsplit(" / ", 1)[0]))
               for name, config in ours_roles.items()}
    matched = {name: pair for name, pair in matched.items() if pair[1] is not None}
    found: dict[tuple[str, str, str], list[str]] = {}
    for name, (config, reference) in matched.items():
        mine, paper = aspects(config), aspects(reference)
        for aspect in mine:
            if mine[aspect] != paper.get(aspect):
                found.setdefault((aspect, paper.get(aspect, "–"), mine[aspect]), []).append(name)
    rows += [{"aspect": aspect, "paper": paper, params.profile: mine,
              "roles": "all" if len(names) == len(matched) else ", ".join(names)}
             for (aspect, paper, mine), names in found.items()]
    return pd.DataFrame(rows, columns=["aspect", "paper", params.profile, "roles"])
