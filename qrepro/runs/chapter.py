"""Run a chapter: every run its plan needs, then its follow-up phase planned from their records (what the CLI's
``run`` and every notebook call)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..chapters import ChapterParams, Planned, chapter_of
from ..chapters.base import Config
from .pool import RunPool
from .shard import lineage, shared_ancestors, split
from .record import RecordError
from .store import find_record, get_or_run_all


@dataclass(frozen=True)
class Shown:
    """What a chapter shows: its planned runs (first phase, then follow-up) and the records found or made."""

    params: ChapterParams
    planned: list[Planned]
    followup: list[Planned]
    records: list[dict[str, Any]]
    invalid: list[str] = field(default_factory=list)  # why a record found was refused (recorded_chapter)


def run_chapter(params: ChapterParams, data_root: str | None = "", device: str = "auto", progress: bool | None = None,
                shard: str | None = None, shared_only: bool = False, compile: bool = False,
                keep_going: bool = False, workers: int = 1) -> Shown:
    """Run (or find the records of) every run of a chapter: its plan, then its follow-up (if any), planned from the
    plan's records. ``progress`` defaults to the profile's (none for smoke).

    ``shard="K/N"`` runs only shard K of N of each phase (see runs.shard); ``shared_only`` only the runs every shard
    of a phase needs. Under either, the follow-up is planned only once every first-phase run is recorded (by all
    shards); until then it is skipped with a notice on stderr, and the same command run again does it.
    ``workers`` > 1 trains the runs in that many processes on this machine (see runs.pool).
    """
    return run_chapters([params], data_root=data_root, device=device, progress=progress, shard=shard,
                        shared_only=shared_only, compile=compile, keep_going=keep_going, workers=workers)[0]


def run_chapters(chapters: Sequence[ChapterParams], data_root: str | None = "", device: str = "auto",
                 progress: bool | None = None, shard: str | None = None, shared_only: bool = False,
                 compile: bool = False, keep_going: bool = False, workers: int = 1) -> list[Shown]:
    """``run_chapter`` for several chapters at once: the first phases of all, then the follow-ups, so that ``workers``
    processes train the runs of every chapter side by side (what ``make book`` does before it executes the chapters,
    which then find every record). With workers, a chapter's follow-up joins the queue as soon as its own first
    phase is recorded. ``progress`` defaults to the first chapter's profile's."""
    if len(chapters) > 1 and (shard or shared_only):
        raise ValueError("--shard and --shared-only split the runs of one chapter: give one chapter")
    if workers > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("--workers trains runs side by side in processes of its own: not under torchrun, whose "
                         "processes already train each run together")
    options = dict(data_root=data_root or None, device=device, compile=compile, keep_going=keep_going,
                   progress=chapters[0].progress if progress is None else progress)
    planned = [list(chapter_of(params).plan(params)) for params in chapters]
    configs = [with_parents(p) for p in planned]
    split = bool(shard or shared_only)
    with RunPool(workers, **options) if workers > 1 else contextlib.nullcontext() as pool:

        def selected(configs: list[Config]) -> list[Config]:
            if shared_only:
                return shared_ancestors(configs)
            return shard_of(configs, shard) if shard else configs

        def execute(configs: list[Config]) -> dict[str, dict[str, Any]]:
            records = pool.records_of(selected(configs)) if pool else get_or_run_all(selected(configs), **options)
            return {record["run_id"]: record for record in records if record is not None}

        records: dict[str, dict[str, Any]] = {}
        followups: dict[int, list[Planned]] = {}
        if pool:  # everything queued; a follow-up joins as soon as its chapter's first phase is recorded
            pool.add(selected(unique_configs_of(configs)))
            for i, (params, first, first_configs) in enumerate(zip(chapters, planned, configs)):
                if chapter_of(params).followup is not None:
                    records |= execute(first_configs)
                    followups[i] = _followup(params, first, first_configs, records, split)
                    pool.add(selected(with_parents(followups[i])))
        records |= execute(unique_configs_of(configs))
        for i, (params, first, first_configs) in enumerate(zip(chapters, planned, configs)):
            if i not in followups:
                followups[i] = _followup(params, first, first_configs, records, split)
        followup_configs = unique_configs_of([with_parents(followups[i]) for i in range(len(chapters))])
        records |= execute(followup_configs) if followup_configs else {}

    def shown(first_configs: list[Config], followup: list[Planned]) -> list[dict[str, Any]]:
        return [records[c.run_id] for c in unique_configs_of([first_configs, with_parents(followup)])
                if c.run_id in records]

    return [Shown(params, first, followups[i], shown(first_configs, followups[i]))
            for i, (params, first, first_configs) in enumerate(zip(chapters, planned, configs))]


def recorded_chapter(params: ChapterParams) -> Shown:
    """What a chapter shows from the records that exist, running nothing (a page's view of a profile that trains for
    hours): its plan, its follow-up once every first-phase run is recorded, and every record found of their runs."""
    chapter = chapter_of(params)
    planned = list(chapter.plan(params))
    invalid: list[str] = []

    def valid(config: Config) -> dict[str, Any] | None:
        try:
            return find_record(config)
        except RecordError as err:  # shown as invalid with its reason, never as a number
            invalid.append(str(err))
            return None

    found = {c.run_id: record for c in with_parents(planned) if (record := valid(c)) is not None}
    first = [found.get(p.config.run_id) for p in planned]
    followup: list[Planned] = []
    if chapter.followup is not None and all(record is not None for record in first):
        followup = list(chapter.followup(params, planned, first))
        found |= {c.run_id: record for c in with_parents(followup) if (record := valid(c)) is not None}
    return Shown(params, planned, followup, list(found.values()), list(dict.fromkeys(invalid)))


def complete(planned: Sequence[Planned], records: list[dict[str, Any]]) -> list[Planned]:
    """The planned numbers every run of which (parents included) has a record."""
    have = {record["run_id"] for record in records}
    return [p for p in planned if all(c.run_id in have for c in lineage(p.config))]


def _followup(params: ChapterParams, planned: list[Planned], configs: list[Config],
              records: dict[str, dict[str, Any]], split: bool) -> list[Planned]:
    """The chapter's follow-up phase, planned from every first-phase record (none while one is missing)."""
    chapter = chapter_of(params)
    if chapter.followup is None:
        return []
    previous = [find_record(c) if split else records.get(c.run_id) for c in configs]
    missing = [c.run_id for c, record in zip(configs, previous) if record is None]
    if missing:
        print(f"{chapter.name}: the follow-up phase is planned from every first-phase record; {len(missing)} of "
              f"{len(configs)} are not recorded yet: run this command again once they are", file=sys.stderr)
        return []
    return list(chapter.followup(params, planned, previous))


def unique_configs_of(groups: list[list[Config]]) -> list[Config]:
    """The configs of every group, each once, in order."""
    return list({c.run_id: c for group in groups for c in group}.values())


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
