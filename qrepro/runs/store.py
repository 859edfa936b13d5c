"""get_or_run(config): the record of a run, running it (and the runs it starts from) only when needed.

Layout: ``<runs dir>/<chapter>/<run-id>/record.json`` beside ``model.pt`` (final weights) and, while a run
is in progress, ``checkpoint.pt``. Weights and checkpoints are git-ignored; records are small and committed.
A chapter is thus idempotent: re-executing it renders from records, and a sweep resumes where it stopped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..config import PTQConfig, TrainConfig
from ..profiles import get_profile
from ..train.distributed import barrier, init_from_environment, is_main
from .execute import CHECKPOINT_FILE, WEIGHTS_FILE, cpu_threads, execute_ptq, execute_train, resolve_device
from .provenance import PACKAGE_DIR
from .record import RECORD_FILE, RecordError, is_stale, read_record, write_json_atomic

Config = TrainConfig | PTQConfig


def runs_dir() -> Path:
    """$QREPRO_RUNS, else the ``runs/`` folder of the repository that holds the package."""
    return Path(os.environ.get("QREPRO_RUNS") or PACKAGE_DIR.parent / "runs")


def run_dir(config: Config, root: Path | None = None) -> Path:
    return (root or runs_dir()) / config.chapter / config.run_id


def find_record(config: Config, root: Path | None = None) -> dict[str, Any] | None:
    """The validated record of ``config``, or None when it has not run."""
    path = run_dir(config, root) / RECORD_FILE
    return read_record(path, config) if path.exists() else None


def weights_path(config: Config, root: Path | None = None) -> Path:
    """The final weights of a recorded run; a clear error when the record exists but they are elsewhere."""
    path = run_dir(config, root) / WEIGHTS_FILE
    if not path.exists():
        raise RecordError(
            f"run {config.run_id} is recorded but its weights {path} are not on this machine (weights are not "
            f"committed). Copy model.pt from the machine that made the run, or move {path.parent} away to re-run it."
        )
    return path


def get_or_run(config: Config, *, data_root: str | os.PathLike | None = None, device: str | torch.device = "auto",
               root: Path | None = None, progress: bool = True, compile: bool = False) -> dict[str, Any]:
    """Return the record of ``config``; run it first (and the runs it is initialized from) if it has none.

    A record made by other package source is returned as it is (reports flag it), except for profiles
    whose runs take seconds (smoke), which are re-run. A record that is unreadable or belongs to another
    config raises RecordError and is never overwritten.
    """
    directory = run_dir(config, root)
    record = find_record(config, root)
    if record is not None and not (is_stale(record) and get_profile(config.profile).rerun_stale):
        return record

    parent = config.init if isinstance(config, TrainConfig) else config.model
    parent_weights = None
    if parent is not None:
        get_or_run(parent, data_root=data_root, device=device, root=root, progress=progress, compile=compile)
        parent_weights = weights_path(parent, root)

    resolved = init_from_environment(resolve_device(device))
    root_arg = str(data_root) if data_root else None  # "" (a notebook default) means the default root
    with cpu_threads(resolved, get_profile(config.profile).cpu_threads):
        if isinstance(config, TrainConfig):
            record, weights = execute_train(config, directory, init_weights=parent_weights, data_root=root_arg,
                                            device=resolved, progress=progress and is_main(), compile=compile)
        else:
            record, weights = execute_ptq(config, model_weights=parent_weights, data_root=root_arg, device=resolved,
                                          progress=progress)
    if is_main():
        directory.mkdir(parents=True, exist_ok=True)  # a post-training run writes no checkpoint that would make it
        tmp = directory / f".{WEIGHTS_FILE}.tmp"
        torch.save(weights, tmp)
        os.replace(tmp, directory / WEIGHTS_FILE)
        write_json_atomic(directory / RECORD_FILE, record)
        (directory / CHECKPOINT_FILE).unlink(missing_ok=True)
    barrier()
    return record


def get_or_run_all(configs: list[Config], **kwargs: Any) -> list[dict[str, Any]]:
    """``get_or_run`` for each config, in order (a sweep lists parents before children)."""
    return [get_or_run(config, **kwargs) for config in configs]


def recorded(chapter: str = "*", root: Path | None = None) -> list[dict[str, Any]]:
    """Every valid record of a chapter, or of all chapters (e.g. runs made on a GPU elsewhere and committed)."""
    return [read_record(path) for path in sorted((root or runs_dir()).glob(f"{chapter}/*/{RECORD_FILE}"))]
