"""Wall time of training every chapter's default runs: what ``make book`` trains on a fresh machine (the smoke
profile on the embedded digits), in one process, one run after another, against ``run all --workers auto`` (one
process per core, each run starting once its parent is recorded; what ``make book`` runs). Target: at most half.

Each case is the CLI command in a fresh process, with an empty runs folder and an empty cache (so no record and no
behaviour fingerprint is reused), timed from start to exit.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..runs.pool import usable_workers

CASES = (("one process", "1"), ("one process per core", "auto"))


def seconds_to_train_all(workers: str, device: torch.device) -> tuple[float, int]:
    """(seconds, records made) of ``python -m qrepro run all --workers WORKERS`` from nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QREPRO_RUNS": f"{tmp}/runs", "XDG_CACHE_HOME": f"{tmp}/cache"}
        env.pop("QREPRO_THREADS", None)
        command = [sys.executable, "-m", "qrepro", "run", "all", "--workers", workers, "--quiet", "--no-progress",
                   "-p", "device", device.type]
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stderr[-2000:]}")
        return seconds, len(list(Path(tmp, "runs").glob("*/*/record.json")))


def run(device: torch.device) -> list[dict]:
    rows = []
    for label, workers in CASES:
        seconds, runs = seconds_to_train_all(workers, device)
        rows.append({"case": label, "workers": usable_workers(workers), "runs": runs, "seconds": round(seconds, 1)})
    for row in rows:
        row["ratio_to_one_process"] = round(row["seconds"] / rows[0]["seconds"], 2)
    return rows
