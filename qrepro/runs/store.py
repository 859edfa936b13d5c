"""get_or_run(config): the record of a run, running it (and the runs it starts from) only when needed.

Layout: ``<runs dir>/<chapter>/<run-id>/record.json`` beside ``model.pt`` (final weights) and, while a run
is in progress, ``checkpoint.pt``. Weights and checkpoints are git-ignored; records are small and committed.
A chapter is thus idempotent: re-executing it renders from records, and a sweep resumes where it stopped.
A record answers a run only on the same data (its fingerprint), and a child starts only from the weights
its parent's record names (their digest). One process runs a run at a time (a lock file per run directory).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..atomic import save_tensors, write_json
from ..config import PTQConfig, TrainConfig
from ..methods.base import NotApplicable
from ..profiles import get_profile, threads_for
from ..threads import torch_threads
from ..train.checkpoint import CheckpointError
from ..train.distributed import barrier, init_from_environment, is_main
from .behaviour import is_stale
from .execute import CHECKPOINT_FILE, WEIGHTS_FILE, execute_ptq, execute_train, load_data, resolve_device
from .lock import LOCK_FILE, run_lock
from .provenance import PACKAGE_DIR
from .record import RECORD_FILE, RecordError, content_digest, read_record
from .shard import lineage, parent_of
from .weights import Parent, state_digest

LEFT_OUT = (FloatingPointError, NotApplicable)  # what --keep-going leaves out of a sweep, with the runs after it

Config = TrainConfig | PTQConfig


def runs_dir() -> Path:
    """$QREPRO_RUNS, else the ``runs/`` folder of the repository that holds the package."""
    path = Path(os.environ.get("QREPRO_RUNS") or PACKAGE_DIR.parent / "runs")
    if path.exists() and not path.is_dir():
        raise RecordError(f"the runs directory {path} is a file, not a folder: point QREPRO_RUNS at a folder")
    return path


def run_dir(config: Config, root: Path | None = None) -> Path:
    return (root or runs_dir()) / config.chapter / config.run_id


def find_record(config: Config, root: Path | None = None) -> dict[str, Any] | None:
    """The validated record of ``config``, or None when it has not run (its data is not checked: see get_or_run)."""
    path = run_dir(config, root) / RECORD_FILE
    return read_record(path, config) if path.exists() else None


def weights_path(config: Config, root: Path | None = None) -> Path:
    """The final weights of a recorded run; a clear error when the record exists but they are elsewhere."""
    path = run_dir(config, root) / WEIGHTS_FILE
    if not path.exists():
        raise RecordError(
            f"run {config.run_id} is recorded but its weights {path} are not on this machine (weights are not "
            f"committed). Run it again here (move {path.parent} away), or bring the model.pt made by the run "
            "itself: it is checked against the digest in its record before any use."
        )
    return path


def check_data(record: dict[str, Any], fingerprint: str) -> None:
    """A record answers only a run on the data it was made from."""
    if record.get("data_fingerprint") != fingerprint:
        raise RecordError(
            f"run {record['run_id']} was recorded on {record.get('data_set')} data with fingerprint "
            f"{record.get('data_fingerprint')}, but the data given now has fingerprint {fingerprint}: another data "
            f"set under the same name. Its record never answers this data: set QREPRO_RUNS to another folder for it, "
            "or move the run's folder away to replace it."
        )


def check_writable(directory: Path) -> None:
    """Fail before any training when the run's directory cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RecordError(f"cannot create the run directory {directory} ({err.strerror}): set QREPRO_RUNS to a "
                          "writable folder") from err
    if not os.access(directory, os.W_OK):
        raise RecordError(f"the run directory {directory} is not writable: set QREPRO_RUNS to a writable folder")


@contextlib.contextmanager
def leave_no_empty_folder(directory: Path) -> Iterator[None]:
    """Remove ``directory`` again when what runs inside fails before writing anything but its lock (a bad argument, a
    missing parent); a run that failed after an epoch keeps its checkpoint, to resume."""
    try:
        yield
    except BaseException:
        if directory.is_dir() and {p.name for p in directory.iterdir()} <= {LOCK_FILE}:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def get_or_run(config: Config, *, data_root: str | os.PathLike | None = None, device: str | torch.device = "auto",
               root: Path | None = None, progress: bool = True, compile: bool = False) -> dict[str, Any]:
    """Return the record of ``config``; run it first (and the runs it is initialized from) if it has none.

    A record is returned only for the same data (fingerprint); one made by code that computes differently is
    returned as it is (reports flag it), except for profiles whose runs take seconds (smoke), which are re-run.
    A record that is unreadable or belongs to another config raises RecordError and is never overwritten.
    """
    directory = run_dir(config, root)
    root_arg = str(data_root) if data_root else None  # "" (a notebook default) means the default root
    fingerprint = load_data(config.data, root_arg).fingerprint
    record = usable_record(config, root, fingerprint)
    if record is not None:
        return record

    parent_config = parent_of(config)
    parent = None
    if parent_config is not None:
        parent_record = get_or_run(parent_config, data_root=data_root, device=device, root=root, progress=progress,
                                   compile=compile)
        parent = Parent(parent_record, weights_path(parent_config, root))

    resolved = init_from_environment(resolve_device(device))
    check_writable(directory)
    with leave_no_empty_folder(directory), run_lock(directory) if is_main() else contextlib.nullcontext():
        record = usable_record(config, root, fingerprint)  # another process may have finished it meanwhile
        if record is not None:
            return record
        with torch_threads(threads_for(config.data), resolved):
            if isinstance(config, TrainConfig):
                record, weights = train_resuming(config, directory, parent, root_arg, resolved,
                                                 progress and is_main(), compile)
            else:
                record, weights = execute_ptq(config, parent=parent, data_root=root_arg, device=resolved,
                                              progress=progress)
        if is_main():
            for leftover in directory.glob(".*.tmp"):  # of a writer killed mid-write (this one holds the lock)
                leftover.unlink()
            record["weights_sha256"] = state_digest(weights)
            record["digest"] = content_digest(record)
            save_tensors(weights, directory / WEIGHTS_FILE)
            write_json(directory / RECORD_FILE, record)
            (directory / CHECKPOINT_FILE).unlink(missing_ok=True)
        barrier()
    return record


def usable_record(config: Config, root: Path | None, fingerprint: str) -> dict[str, Any] | None:
    """The record that answers ``config`` on data with ``fingerprint``; None when it must (re-)run."""
    record = find_record(config, root)
    if record is None:
        return None
    check_data(record, fingerprint)
    if is_stale(record) and get_profile(config.profile).rerun_stale:
        return None
    return record


def train_resuming(config: TrainConfig, directory: Path, parent: Parent | None, data_root: str | None,
                   device: torch.device, progress: bool, compile: bool) -> tuple[dict[str, Any], dict]:
    """``execute_train``; for a profile whose runs take seconds, a checkpoint of other code is started afresh."""
    try:
        return execute_train(config, directory, parent=parent, data_root=data_root, device=device,
                             progress=progress, compile=compile)
    except CheckpointError as err:
        if not get_profile(config.profile).rerun_stale:
            raise
        print(f"{err}: {config.profile} runs take seconds, so it starts again", file=sys.stderr)
        (directory / CHECKPOINT_FILE).unlink()
        return execute_train(config, directory, parent=parent, data_root=data_root, device=device,
                             progress=progress, compile=compile)


def get_or_run_all(configs: list[Config], *, keep_going: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
    """``get_or_run`` for each config, in order (a sweep lists parents before children).

    With ``keep_going`` a run that diverges (FloatingPointError) or that its method refuses for this model
    (NotApplicable) is reported on stderr and the sweep goes on with the runs that do not start from it; the runs
    left out are named at the end and RuntimeError is raised."""
    if not keep_going:
        return [get_or_run(config, **kwargs) for config in configs]
    records, failed = [], set()
    for config in configs:
        chain = {c.run_id for c in lineage(config)}
        if chain & failed:
            print(f"skipped {config.run_id}: it starts from a run that failed", file=sys.stderr)
            failed.add(config.run_id)
            continue
        try:
            records.append(get_or_run(config, **kwargs))
        except LEFT_OUT as err:
            print(f"{config.run_id}: {err}; the sweep goes on", file=sys.stderr)
            failed |= {c.run_id for c in lineage(config) if find_record(c) is None}
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) diverged, were refused or start from one that was: {sorted(failed)}; "
                           f"the other {len(records)} are recorded")
    return records


def recorded(chapter: str = "*", root: Path | None = None) -> list[dict[str, Any]]:
    """Every valid record of a chapter, or of all chapters (e.g. runs made on a GPU elsewhere and committed);
    unreadable ones are left out here and listed by ``unreadable``."""
    records = []
    for path in sorted((root or runs_dir()).glob(f"{chapter}/*/{RECORD_FILE}")):
        try:
            records.append(read_record(path))
        except RecordError:
            continue
    return records


def unreadable(chapter: str = "*", root: Path | None = None) -> list[str]:
    """The error of every record file of a chapter (or of all) that is not a valid record, naming its path."""
    errors = []
    for path in sorted((root or runs_dir()).glob(f"{chapter}/*/{RECORD_FILE}")):
        try:
            read_record(path)
        except RecordError as err:
            errors.append(str(err))
    return errors
