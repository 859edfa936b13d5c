"""The speed targets ``make bench`` is held to, read off the recorded benchmarks: for each target, the case furthest
from it, its measured ratio, and whether it is within the limit. Nothing here is timed; every value comes from a
record under ``runs/bench/``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

Rows = list[dict[str, Any]]


def _baseline_ratios(rows: Rows) -> list[tuple[str, float]]:
    """quantizer_cost: each quantizer's forward + backward against the baseline of its kind (a ReLU for activation
    quantizers, ``w * scale`` for weight quantizers), as the benchmark paired them (not the rows of torch's share, which
    are no quantizer)."""
    return [(f"{row['kind']} {row['quantizer']}, {row['bits']} bits", row["ratio_to_baseline"])
            for row in rows if "baseline" not in row["quantizer"] and "share" not in row["kind"]]


def _step_ratios(rows: Rows) -> list[tuple[str, float]]:
    """qat_step: each quantized step against the full-precision step of the same architecture and precision (records
    before the precision column have one precision)."""
    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["arch"], row.get("precision", "")

    fp = {key(row): row["ms_per_step"] for row in rows if row["method"] == "fp"}
    return [(", ".join([row["case"], *([row["precision"]] if "precision" in row else [])]),
             row["ms_per_step"] / fp[key(row)]) for row in rows if row["method"] != "fp"]


def _qat_steps(rows: Rows) -> list[tuple[str, float]]:
    return [(case, ratio) for case, ratio in _step_ratios(rows) if not case.startswith("pdqat")]


def _pdqat_steps(rows: Rows) -> list[tuple[str, float]]:
    return [(case, ratio) for case, ratio in _step_ratios(rows) if case.startswith("pdqat")]


def _against_brevitas(rows: Rows) -> list[tuple[str, float]]:
    """brevitas_step: each qrepro step against Brevitas' step (below 1: qrepro ahead)."""
    brevitas = [row["ms_per_step"] for row in rows if row["case"].startswith("Brevitas")]
    if not brevitas:  # recorded where Brevitas was not installed: no comparison
        return []
    return [(row["case"], row["ms_per_step"] / brevitas[0]) for row in rows if row["case"].startswith("qrepro")]


def _outside_steps(rows: Rows) -> list[tuple[str, float]]:
    """epoch_cost: the share of an epoch spent outside its optimizer steps."""
    return [(f"{row['case']}, {row['variant']}", (row["epoch_s"] - row["steps_s"]) / row["epoch_s"]) for row in rows]


def _smoke_training(rows: Rows) -> list[tuple[str, float]]:
    """book_runs: the book's default runs as ``make book`` trains them (one process per core) against the same runs
    before (the package at the commit the targets were set, one process per chapter)."""
    before = next(row["seconds"] for row in rows if row["case"].startswith("before"))
    return [(row["case"], row["seconds"] / before) for row in rows if row["case"] == "one process per core"]


@dataclass(frozen=True)
class Target:
    description: str
    benchmark: str
    limit: float
    ratios: Callable[[Rows], list[tuple[str, float]]]
    gpu_limit: float | None = None  # where a GPU's target differs from a CPU's

    def limit_on(self, device: str) -> float:
        return self.gpu_limit if self.gpu_limit is not None and device == "cuda" else self.limit


TARGETS = (
    Target("quantizer forward + backward / its baseline (ReLU, w * scale)", "quantizer_cost", 2.0, _baseline_ratios),
    Target("QAT training step / full-precision step", "qat_step", 1.3, _qat_steps, gpu_limit=1.2),
    Target("PD-QAT step / full-precision step", "qat_step", 2.0, _pdqat_steps),
    Target("qrepro step / Brevitas step, 4-bit weights and inputs", "brevitas_step", 1.0, _against_brevitas),
    Target("epoch time outside the optimizer steps / epoch", "epoch_cost", 0.15, _outside_steps),
    Target("book's runs as make book trains them / before", "book_runs", 0.5, _smoke_training),
)


def target_table(recorded: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per target and recorded device: the case furthest from the target in that device's record, its
    ratio, the limit, and whether it holds (a target whose benchmark has no record, or a record without the cases it
    compares, is left out)."""
    rows = []
    for target in TARGETS:
        for result in recorded:
            if result["benchmark"] != target.benchmark:
                continue
            device = "cpu" if result["device"].startswith("CPU") else "cuda"
            ratios = target.ratios(result["rows"])
            if not ratios:
                continue
            case, ratio = max(ratios, key=lambda pair: pair[1])
            limit = target.limit_on(device)
            rows.append({"target": target.description, "device": device, "limit": limit, "worst case": case,
                         "measured": round(ratio, 3), "met": "yes" if ratio <= limit else "no",
                         "recorded": result["date"][:10]})
    return pd.DataFrame(rows)
