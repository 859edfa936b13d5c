"""Tables of runs: one row per run record (``runs_frame``, the one flattener of record fields), the verdict rule,
the cells every table shares (signed drops, "made by", links to the runs) and the provenance and cost tables.

The paper-vs-ours pipeline that turns runs into compared rows lives in report.compare. The accuracy drop of a
quantized model is measured against the full-precision model trained by the same code, data, profile and seed set
(recorded), never against a paper's baseline number:

    drop = mean top-1 (full precision) - mean top-1 (quantized),

and the paper's drop is computed the same way from the paper's own two numbers.
"""
from __future__ import annotations

import re

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..runs.behaviour import is_stale

GROUP = ["data_set", "profile", "arch"]
# A paper's drop holds when it lies within our drop ± (2 sd + TOLERANCE) percentage points, sd the standard deviation
# of our drop over seeds; TOLERANCE allows for a shortened schedule and a re-encoded data set (book/intro.md says so).
TOLERANCE = 1.0
SPREAD = 2  # how many standard deviations of our drop
VERDICT = f"verdict (±{SPREAD} sd + {TOLERANCE:g})"  # the verdict column's header in every table
FEW_SEEDS = 3  # fewer seeds than this: the verdict says how many


def variant(options: dict[str, Any]) -> str:
    """A short label of a method's hyper-parameters, e.g. "granularity=filter, prob=linear"."""
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "-"


def runs_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run record with its config (``options``: the method's, as recorded), results and provenance;
    a number a record does not have (a post-training run has no epochs, a training run no original model) is
    missing."""
    rows = []
    for record in records:
        config = record["config"]
        options = config.get("options", {})
        # a post-training run's calibration size is a hyper-parameter too
        hyper = {**options, **({"calibration": config["calibration"]} if config["kind"] == "ptq" else {})}
        epochs = record.get("epochs") or [{}]
        rows.append({
            "run_id": record["run_id"],
            "chapter": config["chapter"],
            "kind": config["kind"],
            "data_set": record["data_set"],
            "profile": config["profile"],
            "arch": config["arch"],
            "method": config["method"],
            "variant": variant(hyper),
            "options": options,
            "calibration": config.get("calibration"),
            "bits": config["bits"],
            "seed": config["seed"],
            "top1": record["top1"],
            "top5": record["top5"],
            "best_test_top1": record.get("best_test_top1"),
            "val_selected_top1": record.get("val_selected_top1"),  # at the epoch of best validation top-1
            "train_top1": epochs[-1].get("train_top1"),  # the last epoch's running training top-1
            "original_top1": record.get("original_top1"),  # of the model a post-training run quantized
            "original_top5": record.get("original_top5"),
            "sparsity": record.get("summary", {}).get("sparsity"),  # zero weights, where a method's summary counts them
            "epochs": config["schedule"]["epochs"] if "schedule" in config else None,
            "wall_time_s": record["wall_time_s"],
            "device": record["device"],
            "commit": (record.get("commit") or "unknown")[:8] + ("+dirty" if record.get("dirty") else ""),
            "date": record["date"][:10],
            "stale": is_stale(record),
        })
    return pd.DataFrame(rows)


def option(runs: pd.DataFrame, name: str, default: Any = None) -> list[Any]:
    """Each run's method option ``name`` (``runs_frame``'s ``options``), ``default`` where its method has none."""
    return [options.get(name, default) for options in runs["options"]]


def verdict(drop_minus_paper: float, data_set: str, paper_data: str = "cifar10", reference: str = "paper",
            spread: float = 0.0, seeds: int = 0, profile: str = "") -> str:
    """Does the paper's accuracy drop hold here: does it lie within our drop ± (SPREAD sd + TOLERANCE), ``spread``
    being the standard deviation of our drop over ``seeds`` (0 or NaN from one seed)? Only on the paper's data set
    (or a re-encoding / split of it, e.g. cifar10-jpeg), and worded for its ``profile`` ("on lite: holds"), never as
    a confirmation on the paper's own schedule. ``reference`` names whose drop it is where that is not the paper's
    (e.g. "seed", a seed project's logged runs)."""
    if data_set.split("-")[0] != paper_data:
        return f"n/a: {data_set} is not {paper_data}"
    if pd.isna(drop_minus_paper):
        return f"no {reference} number"
    spread = 0.0 if pd.isna(spread) else spread
    if abs(drop_minus_paper) <= SPREAD * spread + TOLERANCE:
        answer = "holds"
    else:
        answer = f"larger drop than the {reference}" if drop_minus_paper > 0 else f"smaller drop than the {reference}"
    scope = f"on {profile}: " if profile else ""
    return scope + answer + (f" (n={seeds})" if 0 < seeds < FEW_SEEDS else "")


def signed(value: float) -> str:
    """A drop or difference in points with its sign, "–" where there is none."""
    return "–" if pd.isna(value) else f"{value:+.2f}"


def made_by(stale: bool) -> str:
    """The "made by" cell of a row: whether its records come from the current code (record.is_stale)."""
    return "OLDER CODE: re-run to refresh" if stale else "current code"


RUN_LINK = re.compile(r'<a href="#run-([^"]+)">[^<]*</a>')  # what ``run_link`` writes; group 1: the run id


def run_link(run_id: str) -> str:
    """An HTML link to a run's row in the page's provenance table (``RUN_LINK`` finds it again)."""
    return f'<a href="#run-{run_id}">{run_id.rsplit("-", 1)[-1]}</a>'


def run_links(run_ids: Iterable[str]) -> str:
    """Links to the provenance rows of several runs (each once, in order), comma-separated."""
    return ", ".join(run_link(i) for i in dict.fromkeys(run_ids))


def show_table(frame: pd.DataFrame, precision: int = 2, formats: Mapping[str, str] | None = None,
               runs: Mapping[str, Iterable[str]] | None = None) -> Styler:
    """A table as a reader sees it: no index column, floats at ``precision`` digits (``formats``: a format string
    per column where that does not suit), "–" where a value is missing. A ``run_ids`` column (a list of run ids
    per row) becomes a last column ``runs`` of links to the page's provenance table; ``runs`` maps a label (e.g. a
    column whose numbers all come from the same runs) to those runs, shown as a caption of links."""
    out = frame.drop(columns="run_ids", errors="ignore")
    if "run_ids" in frame:
        out["runs"] = frame["run_ids"].map(run_links)
    styler = out.style.hide(axis="index").format(precision=precision, na_rep="–")
    if formats:
        styler = styler.format(dict(formats), na_rep="–")
    if runs:
        styler = styler.set_caption("Runs behind the numbers: " + "; ".join(
            f"{label}: {run_links(ids)}" for label, ids in runs.items()))
    return styler


def provenance_table(runs: pd.DataFrame, anchors: bool = True) -> Styler:
    """Where every number comes from: run id, data set, profile, device, wall time, commit, date.
    With ``anchors`` each run id is the target of the links in the page's other tables."""
    columns = ["run_id", "data_set", "profile", "arch", "method", "bits", "seed", "top1", "top5", "epochs",
               "device", "wall_time_s", "commit", "date", "stale"]
    out = runs[columns].copy()
    out["wall_time_s"] = out["wall_time_s"].round(1)
    if anchors:
        out["run_id"] = out["run_id"].map(lambda i: f'<span id="run-{i}">{i}</span>')
    return out.style.hide(axis="index").format(precision=2)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Measured cost per chapter, profile, data set and device: runs, epochs, seconds per epoch, total minutes."""
    runs = runs.assign(seconds_per_epoch=runs["wall_time_s"] / runs["epochs"])
    return (runs.groupby(["chapter", "profile", "data_set", "device", "kind"], sort=False)
            .agg(runs=("run_id", "count"), epochs=("epochs", "sum"),
                 seconds_per_epoch=("seconds_per_epoch", "median"), total_minutes=("wall_time_s", "sum"))
            .assign(total_minutes=lambda t: (t["total_minutes"] / 60).round(1),
                    seconds_per_epoch=lambda t: t["seconds_per_epoch"].round(2))
            .reset_index())
