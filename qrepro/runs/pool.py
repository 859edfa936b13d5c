"""Run a set of runs in worker processes on one machine: each run starts once the run it is initialized from is
recorded, so a chain (full precision -> 4 -> 3 -> 2 bits) stays in order while independent chains and the
children of one parent train side by side.

Made for the runs that take seconds (the smoke profile on 8x8 digits): there a step is per-operator overhead on
one thread, so a second core helps only as a second process. Each worker gets an equal share of the CPU threads
($QREPRO_THREADS, unless set). Records are written by the workers exactly as ``get_or_run`` writes them (under a
lock per run), so the runs and their records are the same as one process would make.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from tqdm.auto import tqdm

from ..config import PTQConfig, TrainConfig
from .shard import lineage
from .store import get_or_run

Config = TrainConfig | PTQConfig


def usable_workers(workers: int | str) -> int:
    """``workers`` as a count: "auto" is one per CPU core this process may use."""
    if workers == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    count = int(workers) if str(workers).isdigit() else 0
    if count < 1:
        raise ValueError(f"workers must be 'auto' or a whole number >= 1, got {workers!r}")
    return count


def _share_threads(threads: int) -> None:
    os.environ.setdefault("QREPRO_THREADS", str(threads))


def parent_of(config: Config) -> Config | None:
    return config.init if isinstance(config, TrainConfig) else config.model


def get_or_run_parallel(configs: list[Config], workers: int, *, keep_going: bool = False, progress: bool = True,
                        **kwargs: Any) -> list[dict[str, Any]]:
    """``get_or_run_all`` in ``workers`` processes: the records of ``configs`` (and of the runs they start from),
    in the order of ``configs``. A run waits for its parent's record; among the runs ready, the one with the most
    runs waiting on it goes first. An error stops every worker (a run cut there resumes from its checkpoint next
    time) and is raised here; with ``keep_going`` a run that diverges (FloatingPointError) only leaves out the runs
    that start from it, named in the RuntimeError at the end."""
    every = {c.run_id: c for config in configs for c in lineage(config)}
    waiting_on = {run_id: sum(run_id in {a.run_id for a in lineage(c)[:-1]} for c in every.values())
                  for run_id in every}
    pending = sorted(every.values(), key=lambda c: -waiting_on[c.run_id])
    records: dict[str, dict[str, Any]] = {}
    failed: set[str] = set()
    threads = max(1, usable_workers("auto") // workers)
    bar = tqdm(total=len(every), desc=f"runs ({workers} workers)", unit="run", disable=not progress)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_share_threads,
                               initargs=(threads,))
    running: dict[Future, Config] = {}
    try:
        while pending or running:
            for config in [c for c in pending if _ready(c, records, failed)]:
                if len(running) == workers:  # the rest wait here, so a run that becomes ready later can go first
                    break
                pending.remove(config)
                parent = parent_of(config)
                if parent is not None and parent.run_id in failed:
                    print(f"skipped {config.run_id}: it starts from a run that diverged", file=sys.stderr)
                    failed.add(config.run_id)
                    bar.update()
                    continue
                running[pool.submit(get_or_run, config, progress=False, **kwargs)] = config
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                config = running.pop(future)
                bar.update()
                try:
                    records[config.run_id] = future.result()
                except FloatingPointError as err:
                    if not keep_going:
                        raise
                    print(f"{err}; the other runs go on", file=sys.stderr)
                    failed.add(config.run_id)
    except BaseException:
        for worker in multiprocessing.active_children():  # runs cut here resume from their checkpoints next time
            worker.terminate()
        raise
    finally:
        pool.shutdown(cancel_futures=True)
        bar.close()
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) diverged or start from one that did: {sorted(failed)}; "
                           f"the other {len(records)} are recorded")
    return [records[c.run_id] for c in configs]


def _ready(config: Config, records: dict[str, Any], failed: set[str]) -> bool:
    parent = parent_of(config)
    return parent is None or parent.run_id in records or parent.run_id in failed
