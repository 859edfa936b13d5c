"""Tables from run records: one row per run, accuracy and accuracy-drop per bit-width, provenance.

The accuracy drop of a quantized model is measured against the full-precision model trained by the same
code, data, profile and seed set (recorded), never against a paper's baseline number:

    drop = mean top-1 (full precision) - mean top-1 (quantized),

and the paper's drop is computed the same way from the paper's own two numbers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..runs.behaviour import is_stale
from .stats import mean_std

GROUP = ["data_set", "profile", "arch"]
# A reproduction holds when |our drop - the paper's drop| <= TOLERANCE percentage points (book/intro.md says so).
TOLERANCE = 1.0
VERDICT = f"verdict (±{TOLERANCE:g})"  # the verdict column's header in every table


def variant(options: dict[str, Any]) -> str:
    """A short label of a method's hyper-parameters, e.g. "granularity=filter, prob=linear"."""
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "-"


def runs_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run record with its config, results and provenance."""
    rows = []
    for record in records:
        config = record["config"]
        rows.append({
            "run_id": record["run_id"],
            "chapter": config["chapter"],
            "kind": config["kind"],
            "data_set": record["data_set"],
            "profile": config["profile"],
            "arch": config["arch"],
            "method": config["method"],
            # a post-training run's calibration size is a hyper-parameter too
            "variant": variant({**config.get("options", {}),
                                **({"calibration": config["calibration"]} if config["kind"] == "ptq" else {})}),
            "bits": config["bits"],
            "seed": config["seed"],
            "top1": record["top1"],
            "top5": record["top5"],
            "best_test_top1": record.get("best_test_top1"),
            "original_top1": record.get("original_top1"),
            "epochs": config["schedule"]["epochs"] if "schedule" in config else None,
            "wall_time_s": record["wall_time_s"],
            "device": record["device"],
            "commit": (record.get("commit") or "unknown")[:8] + ("+dirty" if record.get("dirty") else ""),
            "date": record["date"][:10],
            "stale": is_stale(record),
        })
    return pd.DataFrame(rows)


def accuracy_table(
    runs: pd.DataFrame,
    paper: pd.DataFrame | None = None,
    keys: tuple[str, ...] = ("method", "bits"),
    is_baseline: Callable[[pd.DataFrame], pd.Series] = lambda df: df["bits"] == 32,
) -> pd.DataFrame:
    """Mean and std of top-1 over seeds per (data set, profile, arch, *keys), the drop against the
    full-precision rows (``is_baseline``) of the same data set, profile and arch, and the paper's numbers.

    ``paper`` has columns arch, bits, top1 (one source) and data; its drop uses its own full-precision row,
    and each row gets a verdict: does the paper's drop hold here, within TOLERANCE points?
    """
    by = [*GROUP, *keys]
    table = (runs.groupby(by, sort=False)
             .agg(top1_mean=("top1", "mean"), top1_std=("top1", "std"), seeds=("seed", "nunique"),
                  best_test_top1=("best_test_top1", "mean"), stale=("stale", "any"), run_ids=("run_id", list))
             .reset_index())
    baseline = (runs[is_baseline(runs)].groupby(GROUP)["top1"].mean().rename("fp_top1").reset_index())
    table = table.merge(baseline, on=GROUP, how="left")
    table["drop"] = table["fp_top1"] - table["top1_mean"]
    if paper is not None:
        paper_data = paper["data"].iloc[0] if "data" in paper else "cifar10"
        paper = paper[["arch", "bits", "top1"]].rename(columns={"top1": "paper_top1"})
        paper_fp = paper[paper["bits"] == 32][["arch", "paper_top1"]].rename(columns={"paper_top1": "paper_fp"})
        paper = paper.merge(paper_fp, on="arch", how="left")
        paper["paper_drop"] = paper["paper_fp"] - paper["paper_top1"]
        table = table.merge(paper[["arch", "bits", "paper_top1", "paper_drop"]], on=["arch", "bits"], how="left")
        table["drop_minus_paper"] = table["drop"] - table["paper_drop"]
        table["verdict"] = [verdict(d, data_set, paper_data)
                            for d, data_set in zip(table["drop_minus_paper"], table["data_set"])]
    return table


def verdict(drop_minus_paper: float, data_set: str, paper_data: str = "cifar10", reference: str = "paper") -> str:
    """Does the paper's accuracy drop hold here, within TOLERANCE points? Only on the paper's data set
    (or a re-encoding / split of it, e.g. cifar10-jpeg). ``reference`` names whose drop it is where that is not
    the paper's (e.g. "seed", a seed project's logged runs)."""
    if data_set.split("-")[0] != paper_data:
        return f"n/a: {data_set} is not {paper_data}"
    if pd.isna(drop_minus_paper):
        return f"no {reference} number"
    if abs(drop_minus_paper) <= TOLERANCE:
        return "holds"
    return f"larger drop than the {reference}" if drop_minus_paper > 0 else f"smaller drop than the {reference}"


def drop_versus(drop: float, reference_drop: float, data_set: str, label: str = "paper", reference: str = "paper",
                reference_data: str = "cifar10") -> dict[str, str]:
    """A row's display cells comparing our drop with a reference's (NaN: none for that row): "{label} drop",
    "drop − {reference} drop" and the verdict. ``label`` heads the reference's column, e.g.
    "seed (CIFAR-10 ResNet-18)"; ``reference`` names it in the difference and the verdict."""
    difference = drop - reference_drop
    return {f"{label} drop": signed(reference_drop), f"drop − {reference} drop": signed(difference),
            VERDICT: verdict(difference, data_set, reference_data, reference)}


def signed(value: float) -> str:
    """A drop or difference in points with its sign, "–" where there is none."""
    return "–" if pd.isna(value) else f"{value:+.2f}"


def made_by(stale: bool) -> str:
    """The "made by" cell of a row: whether its records come from the current code (record.is_stale)."""
    return "OLDER CODE: re-run to refresh" if stale else "current code"


def run_link(run_id: str) -> str:
    """An HTML link to a run's row in the page's provenance table."""
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


def show_accuracy(table: pd.DataFrame, links: bool = True) -> Styler:
    """The accuracy table as a reader sees it: formatted numbers, seeds, a verdict, a flag on stale numbers,
    and (``links``) each row's runs linked to their rows of the page's provenance table."""
    out = table[[c for c in [*GROUP, "method", "variant", "bits"] if c in table]].copy()
    out["top-1 (%)"] = [mean_std(m, s, n, missing="no record")
                        for m, s, n in zip(table["top1_mean"], table["top1_std"], table["seeds"])]
    out["seeds"] = table["seeds"]
    out["drop"] = table["drop"].map(lambda v: f"{v:+.2f}" if pd.notna(v) else "no FP record")
    if "paper_top1" in table:
        out["paper top-1"] = table["paper_top1"].map(lambda v: f"{v:.2f}" if pd.notna(v) else "–")
        out["paper drop"] = table["paper_drop"].map(signed)
        out["drop − paper drop"] = table["drop_minus_paper"].map(signed)
        out[VERDICT] = table["verdict"]
    out["best test epoch (selected on test)"] = table["best_test_top1"].map(
        lambda v: f"{v:.2f}" if pd.notna(v) else "–")
    out["made by"] = table["stale"].map(made_by)
    if links:
        out["run_ids"] = table["run_ids"]
    return show_table(out)


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
