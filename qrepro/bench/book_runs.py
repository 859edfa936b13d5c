"""Wall time of training every chapter's default runs: what ``make book`` trains on a fresh machine (the smoke
profile on the embedded digits). Three ways, each from nothing:

- one process per chapter, one after another: how the book trained before ``run all`` (each notebook's kernel
  trained its own chapter), with today's code, each process with a cache of its own;
- ``run all`` in one process, one run after another;
- ``run all --workers auto``: one process per core, each run starting once its parent is recorded (what
  ``make book`` runs). Target: at most half of the first.

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
from ..runs.pool import usable_workers

# (label, the chapters of each process in turn, workers per process)
CASES = (("one process per chapter", tuple((name,) for name in CHAPTERS), "1"),
         ("one process", (("all",),), "1"),
         ("one process per core", (("all",),), "auto"))


def seconds_to_train(processes: tuple[tuple[str, ...], ...], workers: str,
                     device: torch.device) -> tuple[float, list[float]]:
    """(seconds, the wall time of each record made) of ``python -m qrepro run CHAPTERS --workers WORKERS``, once
    per entry of ``processes`` and one after another, into one empty runs folder; each process has an empty cache
    of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for index, chapters in enumerate(processes):
            env = {**os.environ, "QREPRO_RUNS": f"{tmp}/runs", "XDG_CACHE_HOME": f"{tmp}/cache-{index}",
                   "TORCH_EXTENSIONS_DIR": str(BUILD_DIRECTORY.parent)}  # the compiled kernels are not the runs' work
            env.pop("QREPRO_THREADS", None)
            command = [sys.executable, "-m", "qrepro", "run", *chapters, "--workers", workers, "--quiet",
                       "--no-progress", "-p", "device", device.type]
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stderr[-2000:]}")
        seconds = time.perf_counter() - start
        records = Path(tmp, "runs").glob("*/*/record.json")
        return seconds, [json.loads(path.read_text())["wall_time_s"] for path in records]


def run(device: torch.device) -> list[dict]:
    rows = []
    for label, processes, workers in CASES:
        seconds, run_seconds = seconds_to_train(processes, workers, device)
        rows.append({"case": label, "processes": len(processes), "workers": usable_workers(workers),
                     "runs": len(run_seconds), "seconds": round(seconds, 1), "run_seconds": round(sum(run_seconds), 1)})
    for row in rows:
        row["ratio_to_per_chapter"] = round(row["seconds"] / rows[0]["seconds"], 2)
        row["run_seconds_vs_one_process"] = round(row["run_seconds"] / rows[1]["run_seconds"], 2)
    return rows
