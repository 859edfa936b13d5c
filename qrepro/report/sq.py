"""SQ-chapter views of run records: one number per chain (its last run), the paper-vs-ours table, the
accuracy per SQ stage, the probability-function and granularity comparisons, the selection probabilities.

A chain's number is the last epoch's test top-1 of its last run (the final SQ stage, the last INQ/ELQ step),
mean ± std over seeds; the best test epoch of that run appears only as a labelled second column. Drops are
against our FWN model of the same data set, profile and architecture; the paper's drop against the paper's
own FWN number (the same source), the seed's against the seed's FWN number of the same architecture (its
Table 1; its INQ and ELQ runs start from that model). A row's verdict says whether the paper's drop holds
(tables.verdict); the seed's numbers get none. The tables are report.compare's, with this chapter's columns; every
table lists, per row, the last run of each seed's chain (``run_ids``), which report.show_table links to the page's
provenance table.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ..data import NO_CROP
from ..methods.inq import frozen_per_level
from ..methods.sq import PROBS, SELECTS, selection_probabilities
from ..chapters.sq import COMPUTE_MATCHED, MATCHED, ROWS, SOLVER, Chain
from ..runs.behaviour import is_stale
from .plots import histogram_on_levels
from ..runs import Shown, complete
from .compare import cells, compare, drop_cells, headline_rows, provenance_cells, published_drops, versus_cells
from .reference import paper_table
from .stats import mean_std, series_mean_std
from .tables import signed

PAPER_SOURCES = ("sq-paper", "sq-paper-recalled", "ttq-paper")  # in order of preference for a row
KEYS = ["data_set", "profile", "arch", "row", "variant"]


def _stage(config: dict[str, Any]) -> float | None:
    return config["options"].get("ratio", config["options"].get("step"))


def chain_frame(chains: Iterable[Chain], records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per chain: its group, architecture, row, variant, seed and the numbers of its last run."""
    by_id = {r["run_id"]: r for r in records}
    rows = []
    for chain in chains:
        runs = [by_id[c.run_id] for c in chain.runs]
        final = runs[-1]
        rows.append({
            # the images each number is tested on: FWN may have trained with random crops (lite's converged parent),
            # the quantized runs without them (the official SQ code), on the same test split
            "group": chain.group, "data_set": final["data_set"].removesuffix(NO_CROP), "profile": chain.config.profile,
            "arch": chain.arch,
            "row": chain.row, "variant": chain.variant, "seed": chain.seed, "bits": chain.config.bits,
            "top1": final["top1"], "best_test_top1": final["best_test_top1"],
            "stages": [_stage(r["config"]) for r in runs], "stage_top1": [r["top1"] for r in runs],
            "options": chain.config.options, "stale": any(is_stale(r) for r in runs), "run_id": final["run_id"],
        })
    return pd.DataFrame(rows)


def _paper(reference: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, row), the preferred published CIFAR-10 number (PAPER_SOURCES in order): ``paper_top1``, its drop
    against the same source's FWN number (``paper_drop``) and its ``source`` (naming the paper's network where it is
    not ours: a row of ours without a published number on its own network takes the one on the network whose
    solver it follows, ``SOLVER``, e.g. ResNet-20 rows the SQ paper's ResNet-56 ones)."""
    cifar = reference[(reference["data"] == "cifar10") & reference["source"].isin(PAPER_SOURCES)]
    rows = published_drops(cifar, ["source", "arch"], cifar["row"] == "FWN")
    rows = rows.sort_values("source", key=lambda s: s.map(PAPER_SOURCES.index), kind="stable")
    rows = rows.drop_duplicates(["arch", "row"])[["arch", "row", "paper_top1", "paper_drop", "source"]]
    own = set(zip(rows["arch"], rows["row"]))
    borrowed = [row.assign(arch=arch, source=f"{row['source'].iloc[0]}, {solver}")
                for arch, solver in SOLVER.items() if arch != solver and arch.startswith("resnet")
                for _, row in rows[rows["arch"] == solver].groupby("row")
                if (arch, row["row"].iloc[0]) not in own]
    return pd.concat([rows, *borrowed], ignore_index=True)


def compute_matched(frame: pd.DataFrame) -> pd.DataFrame:
    """Is SQ's gain the method's or its extra compute's? Per data set, profile, architecture and base quantizer
    (BWN, TWN): the SQ chain's top-1, the baseline's on one stage schedule and on as many epochs as the SQ chain
    (mean ± sd over seeds, n), and SQ's gain over each (difference of the means). A row appears once its SQ chain
    and at least one baseline have records."""
    table = frame[frame["group"] == "table"]
    rows = []
    for (data_set, profile, arch), runs in table.groupby(["data_set", "profile", "arch"], sort=False):
        for base in (m.upper() for m in COMPUTE_MATCHED):
            sq, one, matched = (runs[runs["row"] == row]["top1"] for row in (f"SQ-{base}", base, f"{base}{MATCHED}"))
            if not len(sq) or not (len(one) or len(matched)):
                continue
            rows.append({"data set": data_set, "profile": profile, "arch": arch, "quantizer": base,
                         "SQ top-1 (n)": _with_n(sq), "baseline, one schedule (n)": _with_n(one),
                         "baseline, SQ's epochs (n)": _with_n(matched),
                         "SQ's gain over one schedule": signed(sq.mean() - one.mean()) if len(one) else "–",
                         "SQ's gain at equal epochs": signed(sq.mean() - matched.mean()) if len(matched) else "–"})
    return pd.DataFrame(rows)


def _with_n(top1: pd.Series) -> str:
    return f"{series_mean_std(top1)} ({len(top1)})" if len(top1) else "no record yet"


def _seed(reference: pd.DataFrame, arch: str, row: str, options: dict[str, Any]) -> tuple[float, str]:
    """The seed's number for a row: its table, or its SQ-ELQ study entry with the same SQ settings."""
    seed = reference[reference["source"].isin(["seed", "seed-inq"]) & (reference["arch"] == arch)
                     & (reference["row"] == row)]
    same = seed["prob"].isna()
    if row == "SQ-ELQ":
        same = ((seed["prob"] == options.get("prob")) & (seed["granularity"] == options.get("granularity"))
                & (seed["select"] == options.get("select")))
    seed = seed[same]
    return (seed["top1"].iloc[0], seed["selection"].iloc[0]) if len(seed) else (float("nan"), "")


def _compared(frame: pd.DataFrame, group: str, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """report.compare of one group's chains: per row and variant, the drop against our FWN model of the same data
    set, profile and arch (and, with ``reference``, the papers' numbers and the verdict)."""
    fwn = frame[(frame["group"] == "table") & (frame["row"] == "FWN")]
    return compare(frame[frame["group"] == group], KEYS, fwn, metrics=("top1", "best_test_top1"),
                   reference=reference, bits=("bits", "first"), options=("options", "first"))


def paper_vs_ours(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The chapter's main table: our rows (group "table") beside the papers' and the seed's numbers and drops,
    a verdict on the paper's drop, and each row's runs (``run_ids``)."""
    table = _compared(frame, "table", _paper(reference))
    arch_order = {a: i for i, a in enumerate(dict.fromkeys(frame["arch"]))}
    table = table.assign(arch_order=table["arch"].map(arch_order), order=table["row"].map(ROWS.index))
    table = table.sort_values(["data_set", "profile", "arch_order", "order"], kind="stable").reset_index(drop=True)
    seeds = [_seed(reference, a, r, o) for a, r, o in zip(table["arch"], table["row"], table["options"])]
    seed_fwn = [_seed(reference, a, "FWN", {})[0] for a in table["arch"]]
    return table[["data_set", "profile", "arch", "row", "bits"]].assign(**{
        "top-1 (%)": cells(table, "top1"), "seeds": table["seeds"], "drop": drop_cells(table),
        "paper top-1 (CIFAR-10)": [mean_std(v) for v in table["paper_top1"]],
        "paper source": table["source"].fillna("–"),
        **versus_cells(table),
        "seed top-1 (CIFAR-10)": [mean_std(top1) for top1, _ in seeds],
        "seed drop": [signed(fwn - top1) for fwn, (top1, _) in zip(seed_fwn, seeds)],
        "seed selection": [selection or "–" for _, selection in seeds],
        "best test epoch (selected on test)": cells(table, "best_test_top1", std=False),
        **provenance_cells(table),
    })


def headline(shown: Shown) -> pd.DataFrame:
    """The chapter's headline rows (report.compare.headline_rows): every table row but FWN against the paper's drop
    (the source says which paper and network), the compute-matched baselines and SQ-TTQ included."""
    chains = [c for c in complete(shown.planned, shown.records) if c.group == "table"]
    if not chains:
        return headline_rows(pd.DataFrame(), [])
    table = _compared(chain_frame(chains, shown.records), "table", _paper(paper_table("sq")))
    table = table[table["row"] != "FWN"].assign(order=lambda t: t["row"].map(ROWS.index)).sort_values("order")
    rows = headline_rows(table, [f"{row}, {bits}-bit weights" for row, bits in zip(table["row"], table["bits"])])
    return rows.assign(reference=[f"paper ({source})" if isinstance(source, str) else "paper"
                                  for source in table["source"]])


def comparison(frame: pd.DataFrame, group: str, reference: pd.DataFrame) -> pd.DataFrame:
    """Our SQ chain per compared setting (probability function or granularity), with the seed's study.

    The seed's columns are its VGG-9 / ResNet-20 numbers for the same row and setting (filter units for the
    probability functions, linear probability for the granularities), best test epoch, one seed each, and their
    drops against the seed's FWN number. No paper number: no verdict.
    """
    table = _compared(frame, group)
    study = reference[reference["source"] == "seed-study"]
    drawn, inverse, seed_fwn = [], [], []
    for arch, row, setting in zip(table["arch"], table["row"], table["variant"]):
        prob, granularity = (setting, "filter") if group == "prob" else ("linear", setting)
        seed = study[(study["arch"] == arch) & (study["row"] == row) & (study["prob"] == prob)
                     & (study["granularity"] == granularity)].set_index("select")["top1"]
        drawn.append(seed.get("full_precision", float("nan")))
        inverse.append(seed.get("one_minus_inverse", float("nan")))
        seed_fwn.append(_seed(reference, arch, "FWN", {})[0])
    return table[["data_set", "profile", "arch", "row"]].assign(**{
        group: table["variant"], "top-1 (%)": cells(table, "top1"), "seeds": table["seeds"],
        "drop": drop_cells(table),
        "seed top-1: FP units drawn, p ~ f(e)": [mean_std(v) for v in drawn],
        "seed drop: FP units drawn": [signed(f - v) for f, v in zip(seed_fwn, drawn)],
        "seed top-1: p = 1 − f(1/e)": [mean_std(v) for v in inverse],
        "seed drop: p = 1 − f(1/e)": [signed(f - v) for f, v in zip(seed_fwn, inverse)],
        "best test epoch (selected on test)": cells(table, "best_test_top1", std=False),
        **provenance_cells(table),
    })


def stage_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (chain, stage) of the multi-run chains: the stage's ratio or step and its last-epoch top-1."""
    rows = [{"arch": r.arch, "row": r.row, "variant": r.variant, "group": r.group, "seed": r.seed,
             "stage": i + 1, "setting": setting, "top1": top1}
            for r in frame.itertuples() if len(r.stages) > 1
            for i, (setting, top1) in enumerate(zip(r.stages, r.stage_top1))]
    return pd.DataFrame(rows, columns=["arch", "row", "variant", "group", "seed", "stage", "setting", "top1"])


def stage_plot(frame: pd.DataFrame, title: str = "") -> plt.Figure:
    """Test top-1 after each stage (SQ ratio, INQ share, ELQ band), one panel per architecture."""
    stages = stage_frame(frame[frame["group"] == "table"])
    archs = list(dict.fromkeys(stages["arch"]))
    rows = [r for r in ROWS if r in set(stages["row"])]
    colors = dict(zip(rows, sns.color_palette(n_colors=len(rows))))
    fig, axes = plt.subplots(1, len(archs), figsize=(5 * len(archs) + 1.5, 3.8), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        sns.lineplot(stages[stages["arch"] == arch], x="stage", y="top1", hue="row", marker="o", ax=ax,
                     hue_order=rows, palette=colors, legend=False)
        ax.set(title=arch, xlabel="stage (SQ: ratios in order; INQ/ELQ: steps)", ylabel="test top-1 (%)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.legend([plt.Line2D([], [], color=colors[r], marker="o") for r in rows], rows, loc="center right")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1 - 1.2 / fig.get_figwidth(), 1))
    return fig


def probability_plot(errors: Sequence[float]) -> plt.Figure:
    """The roulette's first-draw probabilities for a hand-made error vector, per function and direction."""
    error = torch.tensor(errors, dtype=torch.float64)
    rows = [{"unit": i, "error": e, "probability": p, "function": prob, "select": select}
            for select in SELECTS for prob in PROBS
            for i, (e, p) in enumerate(zip(errors, selection_probabilities(error, prob, select).tolist()))]
    grid = sns.catplot(pd.DataFrame(rows), x="unit", y="probability", hue="function", col="select", kind="bar",
                       height=3.2, aspect=1.5)
    grid.set_titles("drawn units: {col_name}")
    grid.set_xlabels("unit (error " + ", ".join(f"{e:g}" for e in errors) + ")")
    return grid.figure


def level_plots(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> list[plt.Figure]:
    """A histogram of frozen weights per level for the last run of the first INQ and ELQ row of the table."""
    by_id = {r["run_id"]: r for r in records}
    figures = []
    for row in ("INQ", "ELQ"):
        final = frame[(frame["group"] == "table") & (frame["row"] == row)]
        if len(final):
            record = by_id[final["run_id"].iloc[0]]
            figures.append(histogram_on_levels(*frozen_per_level(record),
                                               title=f"{row}: frozen weights per level ({record['run_id']})"))
    return figures


def published(reference: pd.DataFrame) -> pd.DataFrame:
    """The published table rows (not the seed's studies, shown beside the comparisons): source x row."""
    main = reference[reference["prob"].isna()]
    table = main.pivot_table(index=["source", "arch", "data"], columns="row", values="top1", sort=False)
    return table[[r for r in ROWS if r in table.columns]].reset_index()
