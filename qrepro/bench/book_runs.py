"""Wall time of training every chapter's default runs: what ``make book`` trains on a fresh machine (the smoke
profile on the embedded digits). Four ways, each from nothing:

- before: the package as it was at commit ``BEFORE`` (when the speed targets were set; taken from this
  repository's git history with ``git archive``), one process per chapter as its notebooks trained, its own CLI;
- one process per chapter, one after another: how the book trained before ``run all`` (each notebook's kernel
  trained its own chapter), with today's code, each process with a cache of its own;
- ``run all`` in one process, one run after another;
- ``run all --workers auto``: one process per core, each run starting once its parent is recorded (what
  ``make book`` runs). Target: at most half of the time before.

Each case also sums the time its records name (``run_seconds``: a training run's epochs, a post-training run's
quantization). In one process the rest of the case's time is everything around the runs (starting the process,
loading data, behaviour fingerprints, writing records); the per-core case's sum over the one-process sum
(``run_seconds_vs_one_process``) is what running beside another process costs each run on shared memory bandwidth
and caches, the reason two cores give less than half.

Each case runs the CLI in fresh processes, with an empty runs folder and an empty cache (so no record and no
behaviour fingerprint is reused), timed from the first start to the last exit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..chapters import CHAPTERS
from ..quantizers.cpu_kernels import BUILD_DIRECTORY
from ..runs.provenance import PACKAGE_DIR
from ..runs.pool import usable_workers

BEFORE = "0ebc7d2"  # the tree when the speed targets were set (make bench's smoke-training "before")
PER_CHAPTER = tuple((name,) for name in CHAPTERS)
# (label, the chapters of each process in turn, workers per process, commit of the package or None for this one)
CASES = ((f"before (commit {BEFORE}), one process per chapter", PER_CHAPTER, None, BEFORE),
         ("one process per chapter", PER_CHAPTER, "1", None),
         ("one process", (("all",),), "1", None),
         ("one process per core", (("all",),), "auto", None))


def package_at(commit: str, folder: Path) -> Path:
    """``folder`` holding the qrepro package as it was at ``commit`` (``git archive`` of this repository)."""
    archive = subprocess.run(["git", "archive", commit, "qrepro"], cwd=PACKAGE_DIR.parent, capture_output=True)
    if archive.returncode != 0:
        raise RuntimeError(f"book_runs needs commit {commit} in the git history (a full clone, not a shallow one): "
                           f"{archive.stderr.decode().strip()}")
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def seconds_to_train(processes: tuple[tuple[str, ...], ...], workers: str | None, commit: str | None,
                     device: torch.device) -> tuple[float, list[float]]:
    """(seconds, the wall time of each record made) of ``python -m qrepro run CHAPTERS --workers WORKERS``, once
    per entry of ``processes`` and one after another, into one empty runs folder; each process has an empty cache
    of its own. With ``commit``, the package of that commit runs, with the options its CLI had."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = package_at(commit, Path(tmp, "tree")) if commit else None
        start = time.perf_counter()
        for index, chapters in enumerate(processes):
            env = {**os.environ, "QREPRO_RUNS": f"{tmp}/runs", "XDG_CACHE_HOME": f"{tmp}/cache-{index}",
                   "TORCH_EXTENSIONS_DIR": str(BUILD_DIRECTORY.parent)}  # the compiled kernels are not the runs' work
            env.pop("QREPRO_THREADS", None)
            options = ["--workers", workers, "--quiet"] if workers else []
            command = [sys.executable, "-m", "qrepro", "run", *chapters, *options, "--no-progress",
                       "-p", "device", device.type]
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=cwd)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stderr[-2000:]}")
        seconds = time.perf_counter() - start
        records = Path(tmp, "runs").glob("*/*/record.json")
        return seconds, [json.loads(path.read_text())["wall_time_s"] for path in records]


def run(device: torch.device) -> list[dict]:
    rows = []
    for label, processes, workers, commit in CASES:
        seconds, run_seconds = seconds_to_train(processes, workers, commit, device)
        rows.append({"case": label, "processes": len(processes), "workers": usable_workers(workers or "1"),
                     "runs": len(run_seconds), "seconds": round(seconds, 1), "run_seconds": round(sum(run_seconds), 1)})
    for row in rows:
        row["ratio_to_before"] = round(row["seconds"] / rows[0]["seconds"], 2)
        row["ratio_to_per_chapter"] = round(row["seconds"] / rows[1]["seconds"], 2)
        row["run_seconds_vs_one_process"] = round(row["run_seconds"] / rows[2]["run_seconds"], 2)
    return rows
