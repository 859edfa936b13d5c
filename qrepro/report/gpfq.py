"""GPFQ chapter views of post-training run records: headline, sweeps over bits, C, lambda and calibration size.

Every table keeps the data set and profile of our numbers beside the published ones (CIFAR-10 or ImageNet),
and every accuracy drop is measured against the full-precision model the run quantized (``original_top1``,
evaluated in the same run), never against a published baseline. No paper table gives CIFAR-10 numbers for this
chapter's model: the verdicts compare our drops with the seed project's logged drops (ResNet-18 on CIFAR-10,
the official code), labelled as the seed's. Tables of runs carry the runs behind each row (``run_ids``), which
report.show_table links to the page's provenance table.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..chapters.gpfq import calibration_size
from ..chapters.reference.gpfq import SEED_BEST_SCALAR
from ..methods.gpfq import DEFAULT_SCALAR, layer_facts
from ..runs import Shown
from .compare import (cells, compare, drop_cells, headline_rows, provenance_cells, published_drops, versus,
                      versus_cells)
from .lite import planned_records
from .reference import paper_table
from .stats import mean_std
from .tables import option, runs_frame

OURS = ["data_set", "profile", "arch"]
SEED = "seed (CIFAR-10 ResNet-18)"  # the label of the seed project's numbers, the verdicts' reference
METRICS = ("top1", "top5", "original_top1", "original_top5", "sparsity")
SEED_DEFAULT_SCALAR = 1.16  # the seed's C (the official default) wherever it did not sweep C


def ptq_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """tables.runs_frame of the post-training records (training records are skipped), with the options the sweeps
    vary; a method without one gets the value that means "off" (MSQ: no regularizer, lambda 0, no patches)."""
    runs = runs_frame([r for r in records if r["config"]["kind"] == "ptq"])
    patches = [p if m == "gpfq" else "" for p, m in zip(option(runs, "patches", "kernel"), runs["method"])]
    return runs.assign(scalar=option(runs, "scalar"), regularizer=option(runs, "regularizer", "none"),
                       lam=option(runs, "lam", 0.0), patches=patches)


def plain(frame: pd.DataFrame, **where: Any) -> pd.DataFrame:
    """Rows without a sparsity regularizer, with the official conv patches, matching every ``column=value``;
    MSQ rows ignore ``calibration``."""
    rows = frame[(frame["regularizer"] == "none") & (frame["patches"] != "conv")]
    for column, value in where.items():
        if column == "calibration":
            rows = rows[(rows["method"] == "msq") | (rows["calibration"] == value)]
        else:
            rows = rows[rows[column] == value]
    return rows


def summarize(frame: pd.DataFrame, by: list[str], seed: pd.DataFrame | None = None) -> pd.DataFrame:
    """report.compare per (data set, profile, arch, *by): mean and std over seeds of every metric, the drop against
    the model each run quantized (``original_top1``) and the runs; with ``seed`` (its rows, ``published_drops``), the
    seed's drop and the verdict on it."""
    return compare(frame, [*OURS, *by], "original_top1", metrics=METRICS, reference=seed, name="seed", sort=True)


def _ours(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Our columns of a summarized table, without its provenance (report.compare.provenance_cells)."""
    return table[[*OURS, *keys]].assign(**{
        "original top-1": cells(table, "original_top1"), "top-1": cells(table, "top1"), "top-5": cells(table, "top5"),
        "drop": drop_cells(table), "sparsity": cells(table, "sparsity", digits=3), "seeds": table["seeds"]})


def _seed_bits(paper: pd.DataFrame) -> pd.DataFrame:
    """The seed's bit sweep (GPFQ at C = 1.16, 256 images per layer) per method and bits: top-1, top-5 and sparsity,
    and the drop against its own full-precision model (report.compare.published_drops)."""
    rows = paper[paper.source == "seed-bits"]
    rows = published_drops(rows, ["source"], rows.method == "fp", name="seed")
    rows = rows[rows.method != "fp"].astype({"bits": int})
    return rows.rename(columns={"top5": "seed_top5", "sparsity": "seed_sparsity"})[
        ["method", "bits", "seed_top1", "seed_top5", "seed_sparsity", "seed_drop"]]


def _versus_seed(out: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``out`` with the verdict columns on the seed's drop and the provenance of ``table`` (``versus`` the seed)."""
    return out.assign(**versus_cells(table, "seed", SEED), **provenance_cells(table))


def headline_table(frame: pd.DataFrame, paper: pd.DataFrame, bits: int, scalar: float,
                   calibration: int) -> pd.DataFrame:
    """Original vs quantized top-1/top-5 of GPFQ and MSQ at the chapter's setting, beside the seed project's
    ResNet-18 on CIFAR-10 at the same bits (C = 1.16, 256 images per layer), its drop and a verdict on it."""
    table = summarize(plain(frame, bits=bits, scalar=scalar, calibration=calibration), ["method", "bits", "scalar"],
                      _seed_bits(paper))
    out = _ours(table, ["method", "bits", "scalar"])
    out.insert(out.columns.get_loc("original top-1") + 1, "original top-5", cells(table, "original_top5"))
    fp = paper[(paper.source == "seed-bits") & (paper.method == "fp")].iloc[0]
    out[f"{SEED} original top-1/top-5"] = f"{fp.top1:.2f} / {fp.top5:.2f}"
    out[f"{SEED} top-1/top-5 (C = 1.16)"] = ["not logged" if pd.isna(top1) else f"{top1:.2f} / {top5:.2f}"
                                             for top1, top5 in zip(table["seed_top1"], table["seed_top5"])]
    return _versus_seed(out, table)


HEADLINE_BITS = (2, 3, 4)


def headline(shown: Shown) -> pd.DataFrame:
    """The chapter's headline rows (report.compare.headline_rows): GPFQ at 2, 3 and 4 bits (C = 1.16, the chapter's
    calibration size) against the seed project's drops; no GPFQ paper reports CIFAR-10."""
    records = [r for r in planned_records(shown) if r["config"]["kind"] == "ptq"]
    if not records:
        return headline_rows(pd.DataFrame(), [])
    seed = _seed_bits(paper_table("gpfq"))
    calibration = calibration_size(shown.params.profile, shown.params.batch_size)
    frame = plain(ptq_frame(records), scalar=DEFAULT_SCALAR, calibration=calibration)
    table = summarize(frame[frame["method"] == "gpfq"], ["bits", "method"], seed[seed.method == "gpfq"])
    table = table[table["bits"].isin(HEADLINE_BITS)].sort_values("bits", ascending=False)
    return headline_rows(table, [f"GPFQ, {b}-bit weights" for b in table["bits"]], "seed")


def bit_sweep_table(frame: pd.DataFrame, paper: pd.DataFrame, scalar: float, calibration: int) -> pd.DataFrame:
    """Top-1, drop and sparsity per bit-width and method, with the seed's GPFQ numbers (CIFAR-10, C = 1.16), its
    drop and a verdict on it."""
    seed = _seed_bits(paper)
    table = summarize(plain(frame, scalar=scalar, calibration=calibration), ["bits", "method"],
                      seed[seed.method == "gpfq"])
    out = _ours(table, ["bits", "method"])
    out[f"{SEED} top-1"] = [mean_std(v) for v in table["seed_top1"]]
    out[f"{SEED} sparsity"] = [mean_std(v, digits=3) for v in table["seed_sparsity"]]
    return _versus_seed(out, table)


def _seed_curve(paper: pd.DataFrame, source: str, x: str, grid: Iterable[float] | None = None) -> pd.DataFrame:
    rows = paper[(paper.source == source) & (paper.method == "gpfq")]
    if grid is not None:
        rows = rows[rows[x].round(2).isin([round(v, 2) for v in grid])]
    fp = paper[(paper.source == source) & (paper.method == "fp")].top1.iloc[0]
    return rows.groupby(x, as_index=False)["top1"].mean().assign(drop=lambda t: fp - t["top1"])


def sweep_plot(frame: pd.DataFrame, paper: pd.DataFrame, x: str, title: str) -> plt.Figure:
    """Top-1 (ours) and accuracy drop (ours, GPFQ and MSQ, against the seed's GPFQ on CIFAR-10) against
    ``x`` ("bits" or "scalar"); mean over seeds, bars = std."""
    table = summarize(frame, [x, "method"])
    source = "seed-bits" if x == "bits" else "seed-scalar"
    seed = _seed_curve(paper, source, x, None if x == "bits" else sorted(table[x].unique()))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for method, rows in table.groupby("method"):
        label = f"{method.upper()} ({rows.data_set.iloc[0]}, {rows.profile.iloc[0]})"
        axes[0].errorbar(rows[x], rows["top1_mean"], yerr=rows["top1_std"].fillna(0), marker="o", ms=3, label=label)
        axes[1].errorbar(rows[x], rows["drop"], yerr=rows["top1_std"].fillna(0), marker="o", ms=3, label=label)
    axes[0].axhline(table["original_top1_mean"].mean(), color="grey", ls=":", label="full precision (ours)")
    axes[1].plot(seed[x], seed["drop"], "k--", marker="x", label="seed GPFQ (CIFAR-10, ResNet-18)")
    axes[0].set(xlabel=x, ylabel="top-1 (%)")
    axes[1].set(xlabel=x, ylabel="accuracy drop (points)", yscale="symlog")
    axes[1].set_ylim(bottom=min(0.0, float(table["drop"].min()), float(seed["drop"].min())))
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _seed_scalar(paper: pd.DataFrame) -> pd.DataFrame:
    """The seed's C sweep (GPFQ, 4 bits, CIFAR-10) at its default C and at the C it found best: per choice, C, its
    top-1 (mean of the runs it logged at that C), the drop against its own full-precision model, and (best) the
    values of C within 0.1 point of its best."""
    rows = paper[paper.source == "seed-scalar"]
    top1 = rows[rows.method == "gpfq"].groupby("scalar")["top1"].mean()
    fp = rows[rows.method == "fp"].top1.iloc[0]
    scalars = [SEED_DEFAULT_SCALAR, SEED_BEST_SCALAR]
    near = ", ".join(f"{c:g}" for c in top1[top1 >= top1[SEED_BEST_SCALAR] - 0.1].index)
    return pd.DataFrame({"method": "gpfq", "bits": 4, "choice": ["default", "best on the test set"],
                         "seed_C": scalars, "seed_top1": top1[scalars].to_numpy(),
                         "seed_drop": fp - top1[scalars].to_numpy(), "seed_near": ["–", near]})


def best_scalar_table(frame: pd.DataFrame, paper: pd.DataFrame, bits: int, calibration: int,
                      default: float) -> pd.DataFrame:
    """Per method, our top-1 at the default C and at the best C on the grid (highest mean test top-1: selected on
    the test set), beside the seed's GPFQ at 4 bits on CIFAR-10 at its default (1.16) and at the C it found best
    the same way (1.37): its drop and a verdict on it; and which values of C come within 0.1 point of the best."""
    table = summarize(plain(frame, bits=bits, calibration=calibration), ["method", "bits", "scalar"])
    picked = []
    for _, group in table.groupby("method"):
        best = group.loc[[group["top1_mean"].idxmax()]]
        near = group.loc[group["top1_mean"] >= best["top1_mean"].iloc[0] - 0.1, "scalar"]
        picked += [group[group["scalar"] == default].assign(choice="default", near="–"),
                   best.assign(choice="best on the test set", near=", ".join(f"{c:g}" for c in near))]
    # the seed swept C for GPFQ at 4 bits only: other rows get no seed number
    picked = versus(pd.concat(picked, ignore_index=True), _seed_scalar(paper), "seed")
    out = picked[[*OURS, "method", "bits", "choice"]].rename(columns={"choice": "C chosen"}).assign(**{
        "C": picked["scalar"], "top-1": cells(picked, "top1"), "drop": drop_cells(picked), "seeds": picked["seeds"],
        "C within 0.1 pt of the best": picked["near"], f"{SEED} C": picked["seed_C"],
        f"{SEED} top-1": [mean_std(v) for v in picked["seed_top1"]],
        f"{SEED}: C within 0.1 pt of its best": picked["seed_near"].fillna("–")})
    return _versus_seed(out, picked)


def _lambda_summary(frame: pd.DataFrame, bits: int, scalar: float, calibration: int) -> pd.DataFrame:
    """GPFQ runs per regularizer and lambda; the plain run (lambda = 0) is the start of both curves."""
    rows = frame[(frame.method == "gpfq") & (frame.patches == "kernel") & (frame.bits == bits)
                 & (frame.scalar == scalar) & (frame.calibration == calibration)]
    plain_rows = rows[rows.regularizer == "none"]
    both = pd.concat([rows[rows.regularizer != "none"],
                      *[plain_rows.assign(regularizer=reg) for reg in ("L1", "L0")]])
    return summarize(both, ["regularizer", "lam"])


def lambda_table(frame: pd.DataFrame, bits: int, scalar: float, calibration: int) -> pd.DataFrame:
    """GPFQ top-1 and sparsity per regularizer and lambda (lambda = 0: plain GPFQ, shared by both rules)."""
    table = _lambda_summary(frame, bits, scalar, calibration)
    return _ours(table, ["regularizer", "lam"]).assign(**provenance_cells(table))


def lambda_plot(frame: pd.DataFrame, bits: int, scalar: float, calibration: int) -> plt.Figure:
    """Top-1 and sparsity against lambda, for the L1 (soft) and L0 (hard) thresholding rules."""
    table = _lambda_summary(frame, bits, scalar, calibration)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for reg, group in table.groupby("regularizer"):
        axes[0].errorbar(group["lam"], group["top1_mean"], yerr=group["top1_std"].fillna(0), marker="o", label=reg)
        axes[1].errorbar(group["lam"], group["sparsity_mean"], yerr=group["sparsity_std"].fillna(0), marker="o",
                         label=reg)
    axes[0].set(xlabel="lambda", ylabel="top-1 (%)")
    axes[1].set(xlabel="lambda", ylabel="share of zero weights and biases")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"sparse GPFQ, {bits} bits, C = {scalar}, {table.data_set.iloc[0]} ({table.profile.iloc[0]})")
    fig.tight_layout()
    return fig


def calibration_plot(frame: pd.DataFrame, paper: pd.DataFrame, bits: int, scalar: float) -> plt.Figure:
    """Accuracy drop against calibration images per layer: ours, and the official ImageNet ResNet-18 logs."""
    table = summarize(plain(frame[frame.method == "gpfq"], bits=bits, scalar=scalar), ["calibration"])
    imagenet = paper[(paper.source == "official-imagenet") & (paper.arch == "resnet18")]
    fp = imagenet[imagenet.method == "fp"].top1.iloc[0]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.errorbar(table["calibration"], table["drop"], yerr=table["top1_std"].fillna(0), marker="o",
                label=f"ours, {bits} bits ({table.data_set.iloc[0]}, {table.profile.iloc[0]}, {table.arch.iloc[0]})")
    logged = imagenet[imagenet.method == "gpfq"]
    if bits in set(logged["bits"]):
        logged = logged[logged["bits"] == bits]
    for b, group in logged.groupby("bits"):
        ax.plot(group["calibration"], fp - group["top1"], ls="--", marker="x", alpha=0.7,
                label=f"official logs, ImageNet ResNet-18, {b:g} bits (old alphabet)")
    ax.set(xscale="log", yscale="symlog", xlabel="calibration images per layer", ylabel="accuracy drop (points)")
    ax.set_ylim(bottom=min(0.0, float(table["drop"].min())))
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def patches_table(frame: pd.DataFrame, scalar: float, calibration: int) -> pd.DataFrame:
    """Top-1 and sparsity per bit-width: GPFQ with the official non-overlapping conv patches, GPFQ with the
    conv's own stride, and MSQ (means over seeds), and the runs of each bit-width."""
    rows = frame[(frame.regularizer == "none") & (frame.scalar == scalar)
                 & ((frame.method == "msq") | (frame.calibration == calibration))]
    rows = rows.assign(variant=rows["method"].str.upper() + rows["patches"].map(
        {"kernel": ", patches stride = kernel (official)", "conv": ", patches stride = conv's", "": ""}))
    table = summarize(rows, ["bits", "variant"])
    wide = table.pivot_table(index=[*OURS, "bits"], columns="variant", values=["top1_mean", "sparsity_mean"])
    wide.columns = [f"{'top-1' if metric == 'top1_mean' else 'sparsity'}: {variant}"
                    for metric, variant in wide.columns]
    run_ids = table.groupby([*OURS, "bits"])["run_ids"].sum().rename("run_ids")
    return wide.round(3).join(run_ids).reset_index()


def find_run(records: Iterable[dict[str, Any]], method: str, bits: int, calibration: int,
             **options: Any) -> dict[str, Any]:
    """The first post-training record of ``method`` at ``bits`` and ``calibration`` whose options include
    ``options`` (seed 0 comes first in a sweep)."""
    for record in records:
        config = record["config"]
        if (config["kind"] == "ptq" and config["method"] == method and config["bits"] == bits
                and config["calibration"] == calibration
                and all(config["options"].get(k) == v for k, v in options.items())):
            return record
    raise LookupError(f"no {method} record at {bits} bits, {calibration} images per layer, {options}")


def layer_table(record: dict[str, Any]) -> pd.DataFrame:
    """Per-layer facts of one GPFQ run: samples m, inputs d, radius R, step, relative error, zero weights."""
    return pd.DataFrame([{"layer": name, **values} for name, values in layer_facts(record).items()])


def jmlr_table(paper: pd.DataFrame) -> pd.DataFrame:
    """The JMLR code's CIFAR-10 CNN: "GPFQ (MSQ)" test accuracy per bit-width (rows) and C (columns), and a last row
    with the analog (full-precision) network's."""
    jmlr = paper[paper.source == "jmlr"]
    rows = jmlr[jmlr.method != "fp"]
    wide = rows.pivot_table(index=["bits", "scalar"], columns="method", values="top1")
    cells = wide["gpfq"].map("{:.2f}".format) + " (" + wide["msq"].map("{:.2f}".format) + ")"
    table = cells.unstack("scalar")
    table.index = [f"{b:.2f}" + (" (ternary)" if b < 2 else "") for b in table.index]
    table.columns = [f"C = {c:g}" for c in table.columns]
    analog = jmlr[jmlr.method == "fp"]["top1"]
    if len(analog):
        table.loc["analog"] = [f"{analog.iloc[0]:.2f}", *[""] * (len(table.columns) - 1)]
    return table.rename_axis("bits")


def imagenet_table(paper: pd.DataFrame) -> pd.DataFrame:
    """The official ImageNet logs: top-1 per model and bit-width at the model's largest calibration size."""
    rows = paper[paper.source == "official-imagenet"]
    fp = rows[rows.method == "fp"].set_index("arch")["top1"].rename("full precision")
    gpfq = rows[rows.method == "gpfq"]
    gpfq = gpfq[gpfq["calibration"] == gpfq.groupby("arch")["calibration"].transform("max")]
    table = gpfq.pivot_table(index=["arch", "scalar", "calibration"], columns="bits", values="top1")
    table.columns = [f"{b:g} bits" for b in table.columns]
    return table.join(fp, on="arch").round(2)
