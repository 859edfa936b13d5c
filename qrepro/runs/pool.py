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
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from tqdm.auto import tqdm

from ..config import PTQConfig, TrainConfig
from .shard import lineage, parent_of
from .store import LEFT_OUT, get_or_run

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


def _exit_on_signal(signum: int, frame: Any) -> None:
    """SIGTERM as an exception in the main process, so that the pool stops its workers (as on Ctrl-C) instead of
    leaving them behind."""
    raise SystemExit(128 + signum)


class RunPool:
    """Worker processes that make the records of the runs added to them (and of the runs those start from).

    A run waits for its parent's record; among the runs ready, those someone waits for (``records``) go first,
    then the ones with the most runs waiting on them. Runs can be added while others train, e.g. a chapter's
    follow-up once its first phase is recorded. An error stops every worker (a run cut there resumes from its
    checkpoint next time) and is raised; with ``keep_going`` a run that diverges or is refused (``store.LEFT_OUT``)
    only leaves out the runs that start from it, named in the RuntimeError raised when the pool closes.
    """

    def __init__(self, workers: int, *, keep_going: bool = False, progress: bool = True, **kwargs: Any) -> None:
        self.workers, self.keep_going, self.kwargs = workers, keep_going, kwargs
        self.known: dict[str, Config] = {}
        self.pending: list[Config] = []
        self.running: dict[Future, Config] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.failed: set[str] = set()
        self.awaited: set[str] = set()
        self.bar = tqdm(total=0, desc=f"runs ({workers} workers)", unit="run", disable=not progress)
        threads = max(1, usable_workers("auto") // workers)
        self.executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_share_threads, initargs=(threads,))
        self.previous_handler = None
        if threading.current_thread() is threading.main_thread():
            self.previous_handler = signal.signal(signal.SIGTERM, _exit_on_signal)

    def add(self, configs: list[Config]) -> None:
        """Queue ``configs`` and the runs they start from (each run once)."""
        for config in configs:
            for run in lineage(config):
                if run.run_id not in self.known:
                    self.known[run.run_id] = run
                    self.pending.append(run)
                    self.bar.total += 1
        self.bar.refresh()

    def records_of(self, configs: list[Config]) -> list[dict[str, Any] | None]:
        """Train until every run of ``configs`` is recorded or failed; their records (None where failed)."""
        self.add(configs)
        wanted = {c.run_id for config in configs for c in lineage(config)}
        self.awaited = wanted
        try:
            while wanted - self.records.keys() - self.failed:
                self._submit_ready()
                self._collect()
        except BaseException:
            for worker in multiprocessing.active_children():  # runs cut here resume from their checkpoints
                worker.terminate()
            raise
        return [self.records.get(c.run_id) for c in configs]

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)
        self.bar.close()
        if self.failed:
            raise RuntimeError(f"{len(self.failed)} run(s) diverged, were refused or start from one that was: "
                               f"{sorted(self.failed)}; the other {len(self.records)} are recorded")

    def __enter__(self) -> RunPool:
        return self

    def __exit__(self, kind: type | None, *exc: Any) -> None:
        if self.previous_handler is not None:
            signal.signal(signal.SIGTERM, self.previous_handler)
        if kind is None:
            self.close()
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.bar.close()

    def _submit_ready(self) -> None:
        waiting_on: dict[str, int] = {}
        for config in self.pending:
            for ancestor in lineage(config)[:-1]:
                waiting_on[ancestor.run_id] = waiting_on.get(ancestor.run_id, 0) + 1
        ready = [c for c in self.pending if self._ready(c)]
        ready.sort(key=lambda c: (c.run_id not in self.awaited, -waiting_on.get(c.run_id, 0)))
        for config in ready:
            if len(self.running) == self.workers:  # the rest wait here, so a run ready later can go first
                return
            self.pending.remove(config)
            parent = parent_of(config)
            if parent is not None and parent.run_id in self.failed:
                print(f"skipped {config.run_id}: it starts from a run that failed", file=sys.stderr)
                self.failed.add(config.run_id)
                self.bar.update()
                continue
            self.running[self.executor.submit(get_or_run, config, progress=False, **self.kwargs)] = config

    def _ready(self, config: Config) -> bool:
        parent = parent_of(config)
        return parent is None or parent.run_id in self.records or parent.run_id in self.failed

    def _collect(self) -> None:
        if not self.running:
            return
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        for future in done:
            config = self.running.pop(future)
            self.bar.update()
            try:
                self.records[config.run_id] = future.result()
            except LEFT_OUT as err:
                if not self.keep_going:
                    raise
                print(f"{config.run_id}: {err}; the other runs go on", file=sys.stderr)
                self.failed.add(config.run_id)

