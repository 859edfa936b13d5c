"""python -m qrepro plan: one prepared call that fills the book on a short-lived GPU, and its import back here.

    python -m qrepro plan --minutes 9 --out OUT --data cifar10-jpeg --data-root data/cifar10-jpeg
    python -m qrepro plan --import OUT          # back on the developer's machine: records (and weights) into runs/

``plan`` runs the self-check (``qrepro.check``), then every missing run of ``PRIORITY``, which the chapters declare
(``Chapter.gpu_plan``: each paper's headline rows at one seed, then seeds 1 and 2, then the scoreboard), highest
value first, in ``--workers`` processes sharing the device. Runs that start from one another (a chain: full
precision -> 4 -> 3 -> 2 bits, or every post-training run of one trained model) form one job, run by one worker in
order, so no weights travel between workers. A run starts only when its estimate (its epochs times the epoch time
measured on its model, once one epoch of that model has run) fits before the deadline; at the deadline the workers
are stopped, and a run cut there loses only itself. Each finished record, and the final weights of each run a later
job or call will start from, are appended to ``OUT/records.tar`` and ``OUT/weights.tar`` as they finish (two files:
what comes back from a device is a few files of limited size).
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
import queue
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from .atomic import atomic_path
from .chapters import CHAPTERS, first_phase
from .config import PTQConfig, TrainConfig
from .runs import find_record, get_or_run, read_record, run_dir
from .runs.execute import WEIGHTS_FILE
from .runs.record import RECORD_FILE, RecordError
from .runs.shard import lineage

Config = TrainConfig | PTQConfig
RECORDS_TAR, WEIGHTS_TAR = "records.tar", "weights.tar"
WEIGHTS_LIMIT = 16 * 2**20  # bytes: the largest file that comes back from a device
# (chapter, parameters) in order of value: each paper's headline rows at one seed, then three seeds, then the
# scoreboard; profile and data are added by plan()
def priority() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(chapter, parameters) of every chapter's GPU plan (``Chapter.gpu_plan``), round by round, chapters by rank."""
    steps = [(step, chapter.rank, name, dict(parameters)) for name, chapter in CHAPTERS.items()
             for step, parameters in chapter.gpu_plan]
    return tuple((name, parameters) for _, _, name, parameters in sorted(steps, key=lambda s: s[:2]))


PRIORITY = priority()


@dataclass(frozen=True)
class Job:
    """Runs that must run in order in one worker: a chain, or the runs of one shared parent."""

    configs: tuple[Config, ...]

    @property
    def root(self) -> str:
        return lineage(self.configs[0])[0].run_id


def jobs(priority: Iterable[tuple[str, dict[str, Any]]], profile: str, data: str) -> list[Job]:
    """The missing runs of ``priority``, grouped by the root of their chain, in order of value; each run once."""
    groups: dict[str, list[Config]] = {}
    seen: set[str] = set()
    for chapter, parameters in priority:
        for config in first_phase(chapter, profile=profile, data=data, **parameters):
            for run in lineage(config):
                if run.run_id in seen or find_record(run) is not None:
                    continue
                seen.add(run.run_id)
                groups.setdefault(lineage(run)[0].run_id, []).append(run)
    return [Job(tuple(configs)) for configs in groups.values()]


def estimate(config: Config, epoch_seconds: dict[str, float]) -> float:
    """Seconds a run should take: its epochs times its model's measured epoch time (0 while none is measured:
    the first run of a model is how it gets measured); a post-training run counts as one epoch."""
    epochs = config.schedule.epochs if isinstance(config, TrainConfig) else 1
    return epochs * epoch_seconds.get(config.arch, 0.0)


def _worker(tasks: Any, results: Any, epoch_seconds: Any, deadline: float, data_root: str | None,
            device: str) -> None:
    """Take jobs until none is left; run each job's runs in order while their estimate fits before the deadline."""
    while True:
        try:
            job: Job = tasks.get_nowait()
        except queue.Empty:
            return
        for config in job.configs:
            if time.time() + estimate(config, dict(epoch_seconds)) > deadline:
                results.put(("skipped", config.run_id, "its estimate does not fit before the deadline"))
                break
            results.put(("started", config.run_id, ""))
            try:
                record = get_or_run(config, data_root=data_root, device=device, progress=False)
            except (FloatingPointError, RecordError, RuntimeError, ValueError) as err:
                results.put(("failed", config.run_id, f"{type(err).__name__}: {err}"))
                break
            if isinstance(config, TrainConfig):
                epoch_seconds[config.arch] = record["epoch_time_s"]
            results.put(("done", config.run_id, config.chapter))


def _append(tar_path: Path, name: str, payload: bytes) -> None:
    with tarfile.open(tar_path, "a") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(payload), int(time.time()), 0o644
        tar.addfile(info, io.BytesIO(payload))


def _weights_size(tar_path: Path) -> int:
    return tar_path.stat().st_size if tar_path.exists() else 0


def plan(out: Path, minutes: float, *, profile: str = "quick", data: str = "", data_root: str | None = None,
         device: str = "auto", workers: int = 1, priority: Iterable[tuple[str, dict[str, Any]]] | None = None,
         check: bool = True) -> dict[str, list[str]]:
    """Fill the missing runs of ``priority`` (default ``PRIORITY``) within ``minutes`` (see the module); returns
    run ids by outcome: done, skipped (their estimate did not fit), failed, cut (running at the deadline)."""
    from .check import check as self_check
    from .runs.execute import resolve_device

    deadline = time.time() + 60 * minutes
    out.mkdir(parents=True, exist_ok=True)
    if check:
        failed = [f"{r.method} on {r.arch}: {r.error}" for r in self_check(resolve_device(device)) if r.error]
        if failed:
            raise RuntimeError(f"the self-check failed, nothing was run: {failed}")
    todo = jobs(PRIORITY if priority is None else priority, profile, data)
    parents = {lineage(c)[-2].run_id for job in todo for c in job.configs if len(lineage(c)) > 1}
    context = mp.get_context("spawn")
    manager = context.Manager()
    tasks, results, epoch_seconds = manager.Queue(), manager.Queue(), manager.dict()
    for job in todo:
        tasks.put(job)
    procs = [context.Process(target=_worker, args=(tasks, results, epoch_seconds, deadline, data_root, device))
             for _ in range(max(1, min(workers, len(todo))))]
    for proc in procs:
        proc.start()
    outcome: dict[str, list[str]] = {"started": [], "done": [], "skipped": [], "failed": []}
    configs = {c.run_id: c for job in todo for c in job.configs}
    while any(p.is_alive() for p in procs) or not results.empty():
        try:
            kind, run_id, detail = results.get(timeout=1)
        except queue.Empty:
            if time.time() > deadline:
                break
            continue
        outcome[kind].append(run_id)
        if kind == "started":
            continue
        if kind != "done":
            print(f"{kind}: {run_id}: {detail}", file=sys.stderr)
            continue
        config = configs[run_id]
        folder = run_dir(config)
        _append(out / RECORDS_TAR, f"{config.chapter}/{run_id}/{RECORD_FILE}", (folder / RECORD_FILE).read_bytes())
        weights = (folder / WEIGHTS_FILE).read_bytes()
        if run_id in parents and _weights_size(out / WEIGHTS_TAR) + len(weights) < WEIGHTS_LIMIT:
            _append(out / WEIGHTS_TAR, f"{config.chapter}/{run_id}/{WEIGHTS_FILE}", weights)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
        proc.join()
    ended = set(outcome["done"]) | set(outcome["failed"])
    outcome["cut"] = [run_id for run_id in outcome.pop("started") if run_id not in ended]  # stopped at the deadline
    return outcome


RECORD_LIMIT = 4 * 2**20  # bytes: a record is small (a few hundred kB at most); larger is not a record


def import_results(out: Path, runs_root: Path | None = None) -> list[str]:
    """Put the records (and weights) a ``plan`` call left in ``out`` under runs/; return what was added.

    All or nothing: every member is read (at most ``RECORD_LIMIT`` or ``WEIGHTS_LIMIT`` bytes, checked before
    reading) and validated in a temporary folder first: a record as ``read_record`` reads it, weights against the
    digest their run's record names. Only when all pass is anything written under runs/; otherwise RecordError
    names the first member that failed and runs/ is left as it was (so importing the same tar again refuses
    again)."""
    from .runs import runs_dir

    root = runs_root or runs_dir()
    incoming = _read_members(out)
    with tempfile.TemporaryDirectory() as staging:
        for name, payload in incoming.items():
            (Path(staging) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(staging) / name).write_bytes(payload)
        for name in incoming:
            if name.endswith(RECORD_FILE):
                read_record(Path(staging) / name)  # a foreign or damaged record is refused
        for name in incoming:
            if name.endswith(WEIGHTS_FILE):
                _check_weights(Path(staging) / name, root / name)
    new = {}
    for name, payload in incoming.items():
        target = root / name
        if target.exists() and target.read_bytes() != payload:
            raise RecordError(f"{target} exists with other contents than {out}:{name}; move one away (nothing "
                              "was imported)")
        if not target.exists():
            new[name] = payload
    for name, payload in new.items():
        with atomic_path(root / name) as tmp:
            tmp.write_bytes(payload)
    return list(new)


def _read_members(out: Path) -> dict[str, bytes]:
    """Every member of the tars in ``out`` by name, each checked to be a run file of bounded size before it is
    read."""
    members: dict[str, bytes] = {}
    for tar_name, file_name, limit in ((RECORDS_TAR, RECORD_FILE, RECORD_LIMIT), (WEIGHTS_TAR, WEIGHTS_FILE,
                                                                                 WEIGHTS_LIMIT)):
        path = out / tar_name
        if not path.exists():
            continue
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if (member.name.startswith("/") or ".." in parts or len(parts) != 3 or parts[2] != file_name
                        or not member.isfile()):
                    raise RecordError(f"{path}: member {member.name!r} is not a run's {file_name} "
                                      "(chapter/run-id/file); nothing was imported")
                if member.size > limit:
                    raise RecordError(f"{path}: member {member.name!r} is {member.size} bytes, more than a "
                                      f"{file_name} may be ({limit}); nothing was imported")
                members[member.name] = tar.extractfile(member).read(limit + 1)
    return members


def _check_weights(staged: Path, target: Path) -> None:
    """Staged weights pass only beside their run's record (staged with them, or already at ``target``'s) and only
    when they are the weights that record names (``runs.weights``: loaded as tensors only, then digested)."""
    from .runs.weights import load_weights, state_digest

    record_path = next((p for p in (staged.with_name(RECORD_FILE), target.with_name(RECORD_FILE)) if p.exists()),
                       None)
    if record_path is None:
        raise RecordError(f"{target}: weights without their run's record; nothing was imported")
    expected = read_record(record_path).get("weights_sha256")
    if state_digest(load_weights(staged)) != expected:
        raise RecordError(f"{target}: not the weights its record names (sha256 {expected}); nothing was imported")


def summary(outcome: dict[str, list[str]]) -> str:
    return json.dumps({kind: len(ids) for kind, ids in outcome.items()})
