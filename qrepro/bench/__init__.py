"""Benchmarks (``make bench`` / ``python -m qrepro bench``): speed and peak memory, one module per benchmark.

Each benchmark is a function ``run(device) -> list[dict]`` returning one row per measured case; rows are
printed as a table and written with their provenance to ``runs/bench/<benchmark>-<device>.json``.
Speed and memory targets live here, never in timed tests: ``targets.target_table`` reads each one off the records.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from ..atomic import write_json
from ..profiles import native_bf16
from ..runs.execute import resolve_device
from ..runs.provenance import provenance
from ..runs.store import runs_dir
from . import (book_runs, brevitas_step, compile_masks, epoch_cost, gpfq_speed, pdqat_step, precision_curves, qat_step,
               quantizer_cost, sq_selection)
from .targets import target_table

BENCHMARKS: dict[str, Callable] = {"quantizer_cost": quantizer_cost.run, "compile_masks": compile_masks.run,
                                   "qat_step": qat_step.run,
                                   "brevitas_step": brevitas_step.run, "epoch_cost": epoch_cost.run,
                                   "sq_selection": sq_selection.run,
                                   "pdqat_step": pdqat_step.run, "gpfq_speed": gpfq_speed.run,
                                   "book_runs": book_runs.run, "precision_curves": precision_curves.run}


def main(only: list[str] | None = None, device: str = "auto") -> None:
    resolved = resolve_device(device)
    names = only or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; valid: {', '.join(BENCHMARKS)}")
    for name in names:
        rows = BENCHMARKS[name](resolved)
        print(f"\n## {name} on {provenance(resolved)['device']}")
        print(pd.DataFrame(rows).to_string(index=False))
        slug = "cuda" if resolved.type == "cuda" else "cpu"
        write_json(runs_dir() / "bench" / f"{name}-{slug}.json",
                   {"benchmark": name, "rows": rows, **provenance(resolved), **capability(resolved)})
    targets = target_table(recorded())
    if not targets.empty:
        print("\n## targets, from the records under runs/bench/ (latest of each benchmark)")
        print(targets.to_string(index=False))


def capability(device: torch.device) -> dict[str, object]:
    """What the processor offers the benchmarks: torch's CPU vector capability and whether bf16 is native."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16(device.type)}


def recorded(root: Path | None = None) -> list[dict]:
    """Every benchmark result written under ``runs/bench/`` (one per benchmark and device), by name."""
    return [json.loads(path.read_text()) for path in sorted((root or runs_dir() / "bench").glob("*.json"))]
