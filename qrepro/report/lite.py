"""A chapter's real-data evidence: its ``lite`` protocol (the paper's, at a 2-core CPU's length, on cifar10-jpeg),
read from the records that exist. A page shows it first; nothing here trains (``make book`` never trains on
CIFAR-10), so a run without a record is listed with the command that makes it.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..chapters import CHAPTERS, chapter_of
from ..chapters.base import ChapterParams
from ..runs import Shown, recorded, recorded_chapter
from ..runs.shard import lineage
from .protocol import deviations, protocol
from .tables import provenance_table, runs_frame, show_table

PROFILE = "lite"
SEEDS = 3  # every headline row of a lite page: seeds 0, 1 and 2


def params(chapter: str, **values: Any) -> ChapterParams:
    """The chapter's parameters under ``lite`` with ``SEEDS`` seeds (``values`` override the rest)."""
    return CHAPTERS[chapter].params(**{"profile": PROFILE, "seeds": SEEDS, **values})


def evidence(chapter: str, **values: Any) -> Shown:
    """The chapter's lite plan and every record of it that exists (``runs.recorded_chapter``), for seeds 0 to
    ``SEEDS`` - 1 and every further seed that has a lite record of the chapter: no seed that exists is left out."""
    seeds = max([SEEDS - 1, *(r["config"]["seed"] for r in recorded(chapter) if r["config"]["profile"] == PROFILE)])
    return recorded_chapter(params(chapter, **{"seeds": seeds + 1, **values}))


def planned_records(shown: Shown) -> list[dict[str, Any]]:
    """The records of the planned numbers themselves (not of the parents behind them)."""
    wanted = {p.config.run_id for p in [*shown.planned, *shown.followup]}
    return [record for record in shown.records if record["run_id"] in wanted]


def command(p: ChapterParams) -> str:
    """The command that makes a chapter's lite runs (resumable; finished runs are never repeated)."""
    return (f"python -m qrepro run {chapter_of(p).name} -p profile {p.profile} -p seeds {p.seeds} --keep-going "
            "--no-progress")


def status(shown: Shown) -> str:
    """One sentence: how many of the runs behind the lite numbers are recorded, and how to make the rest."""
    configs = {c.run_id for p in shown.planned for c in lineage(p.config)}
    have = {record["run_id"] for record in shown.records} & configs
    seeds = sorted({record["config"]["seed"] for record in shown.records if record["run_id"] in configs})
    data = ", ".join(dict.fromkeys(p.config.data for p in shown.planned))
    text = (f"**Profile `{shown.params.profile}`, data set `{data}`: {len(have)} of {len(configs)} runs "
            f"recorded** (seeds with a record: {', '.join(map(str, seeds)) or 'none'}).")
    if len(have) < len(configs):
        text += f" The others: `{command(shown.params)}` (resumes; never repeats a finished run)."
    for reason in shown.invalid:
        text += f"\n\n**Invalid record, not shown:** {reason}"
    return text


def deviations_table(shown: Shown) -> Styler:
    """How these runs differ from the paper's protocol (``protocol.deviations``), one row per difference."""
    table = deviations(shown.params)
    table["roles"] = [_short(roles) for roles in table["roles"]]
    return show_table(table)


def protocol_table(shown: Shown) -> Styler:
    """What the runs did, role by role (``protocol.protocol``), roles with the same protocol on one row."""
    table = protocol(shown.params)
    aspects = [c for c in table.columns if c != "role"]
    grouped = table.groupby(aspects, sort=False, dropna=False)["role"].agg(lambda r: _short(", ".join(r)))
    return show_table(grouped.reset_index()[["role", *aspects]])


def _short(roles: str, most: int = 6) -> str:
    names = roles.split(", ")
    return roles if len(names) <= most else ", ".join(names[:most]) + f" and {len(names) - most} more"


def planned_runs(shown: Shown) -> pd.DataFrame:
    """tables.runs_frame of ``planned_records``."""
    return runs_frame(planned_records(shown))


def provenance(shown: Shown) -> Styler | Any:
    """Every lite record behind the section's numbers, parents included: the targets of its tables' run links
    (or, as IPython Markdown, a line saying that none exists yet)."""
    if not shown.records:
        from IPython.display import Markdown  # pages only: the package itself runs without Jupyter

        return Markdown("No lite record yet.")
    return provenance_table(runs_frame(shown.records))
