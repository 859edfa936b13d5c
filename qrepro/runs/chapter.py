"""Run a chapter: every run its plan needs, then its follow-up phase planned from their records (what the CLI's
``run`` and every notebook call)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from ..chapters import ChapterParams, Planned, chapter_of
from ..chapters.base import Config
from .shard import lineage, shared_ancestors, split
from .store import find_record, get_or_run_all


@dataclass(frozen=True)
class Shown:
    """What a chapter shows: its planned runs (first phase, then follow-up) and the records found or made."""

    params: ChapterParams
    planned: list[Planned]
    followup: list[Planned]
    records: list[dict[str, Any]]


def run_chapter(params: ChapterParams, data_root: str | None = "", device: str = "auto", progress: bool | None = None,
                shard: str | None = None, shared_only: bool = False, compile: bool = False,
                keep_going: bool = False) -> Shown:
    """Run (or find the records of) every run of a chapter: its plan, then its follow-up (if any), planned from the
    plan's records. ``progress`` defaults to the profile's (none for smoke).

    ``shard="K/N"`` runs only shard K of N of each phase (see runs.shard); ``shared_only`` only the runs every shard
    of a phase needs. Under either, the follow-up is planned only once every first-phase run is recorded (by all
    shards); until then it is skipped with a notice on stderr, and the same command run again does it.
    """
    chapter = chapter_of(params)
    progress = params.progress if progress is None else progress

    def execute(configs: list[Config]) -> list[dict[str, Any]]:
        if shared_only:
            configs = shared_ancestors(configs)
        elif shard:
            configs = shard_of(configs, shard)
        return get_or_run_all(configs, data_root=data_root or None, device=device, progress=progress,
                              compile=compile, keep_going=keep_going)

    planned = list(chapter.plan(params))
    configs = with_parents(planned)
    records = execute(configs)
    if chapter.followup is None:
        return Shown(params, planned, [], records)
    previous = [find_record(c) for c in configs] if shard or shared_only else records
    missing = [c.run_id for c, record in zip(configs, previous) if record is None]
    if missing:
        print(f"{chapter.name}: the follow-up phase is planned from every first-phase record; {len(missing)} of "
              f"{len(configs)} are not recorded yet: run this command again once they are", file=sys.stderr)
        return Shown(params, planned, [], records)
    followup = list(chapter.followup(params, planned, previous))
    more = execute(with_parents(followup))
    return Shown(params, planned, followup, list({r["run_id"]: r for r in records + more}.values()))


def with_parents(planned: list[Planned]) -> list[Config]:
    """Every run behind the planned numbers, each once, parents first (a chain's stages have records of their own,
    which the chapter shows beside its number)."""
    return list({c.run_id: c for p in planned for c in lineage(p.config)}.values())


def shard_of(configs: list[Config], shard: str) -> list[Config]:
    """The configs of shard "K/N"; a clear error while the runs every shard starts from are not recorded."""
    index, count = parse_shard(shard)
    missing = [c.run_id for c in shared_ancestors(configs) if find_record(c) is None]
    if missing:
        raise ValueError(f"every shard starts from {missing}: record them first with the same command and "
                         f"--shared-only instead of --shard")
    return split(configs, index, count)


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N (e.g. 0/4), got {text!r}") from None
    return index, count
