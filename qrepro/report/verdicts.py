"""The book's answer first: every paper's headline rows on real data, in one table and one figure.

Each chapter's report module may define ``headline(shown)`` (rows in report.compare.headline_rows' shape) over its
``lite`` evidence (report.lite); this module finds them by the chapter's name, so a fifth paper's rows join by
defining its own. Nothing here trains: a chapter without records says so.
"""
from __future__ import annotations

import importlib
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from pandas.io.formats.style import Styler

from ..chapters import CHAPTERS
from ..runs import Shown
from . import lite
from .cost import training_seconds
from .stats import mean_std
from .tables import VERDICT, show_table, signed

# the cost column: the quantized runs behind a row, all its seeds, as recorded (full-precision parents not counted)
HOURS = "training hours (quantized runs, all seeds)"


def headlines() -> pd.DataFrame:
    """Every chapter's headline rows on its lite evidence, one frame, with the chapter's name and their costs
    (``with_costs``)."""
    frames = []
    for name in CHAPTERS:
        module = importlib.import_module(f"{__package__}.{name}")
        if hasattr(module, "headline"):
            shown = lite.evidence(name)
            frames.append(with_costs(module.headline(shown).assign(chapter=name), shown.records))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def answer(name: str, shown: Shown) -> str:
    """Chapter ``name``'s answer first, as Markdown: one line per headline row (its report module's ``headline``
    over ``shown``), our drop beside the reference's and the verdict, so that it says no more than those rows."""
    rows = importlib.import_module(f"{__package__}.{name}").headline(shown)
    if not len(rows):
        return "**The answer so far:** no headline row has a record yet."
    seeds = sorted(set(rows["seeds"]))
    counted = f"{seeds[0]} seed{'s' if seeds[0] > 1 else ''}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]} seeds"
    where = "; ".join(f"{profile}, {data}" for profile, data in dict.fromkeys(zip(rows["profile"], rows["data_set"])))
    lines = [f"**The answer so far** ({where}; {counted} a row, {shown.params.seeds} planned), our accuracy drop "
             "beside the reference's:", ""]
    for r in rows.itertuples():
        ours = f"- {r.row}: ours {mean_std(r.drop, r.drop_sd, r.seeds, signed=True)}"
        lines.append(f"{ours}, no reference number." if pd.isna(r.reference_drop) else
                     f"{ours}, {r.reference} {signed(r.reference_drop)}: {r.verdict}.")
    return "\n".join(lines)


def with_costs(rows: pd.DataFrame, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Headline ``rows`` with the training hours of the quantized runs behind each (``hours``) and the seconds of
    the full-precision runs they start from, by run id (``parent_seconds``), from ``records``
    (``cost.training_seconds``)."""
    by_id = {record["run_id"]: record for record in records}
    behind = [[by_id[run_id] for run_id in ids if run_id in by_id] for ids in rows["run_ids"]]
    return rows.assign(hours=[sum(training_seconds(r).values()) / 3600 for r in behind],
                       parent_seconds=[training_seconds(r, full_precision=True) for r in behind])


def verdict_table(rows: pd.DataFrame) -> Styler:
    """The introduction's table: chapter, row, the reference drop, ours (mean ± sd over n seeds, each seed's top-1),
    the verdict, where the number comes from and the training hours behind it; a chapter without records has one
    row saying so."""
    shown = []
    for name in CHAPTERS:
        ours = rows[rows["chapter"] == name] if len(rows) else rows
        link = f'<a href="{name}.html">{name}</a>'
        if not len(ours):
            if hasattr(importlib.import_module(f"{__package__}.{name}"), "headline"):
                shown.append({"chapter": link, "row": "no lite record yet", "reference drop": "–", "our drop": "–",
                              "n": 0, "top-1 per seed": "–", VERDICT: "–", "data": "–", HOURS: "–"})
            continue
        for r in ours.itertuples():
            shown.append({"chapter": link, "row": r.row,
                          "reference drop": f"{signed(r.reference_drop)} ({r.reference})",
                          "our drop": mean_std(r.drop, r.drop_sd, r.seeds, signed=True), "n": r.seeds,
                          "top-1 per seed": "; ".join(f"{s}: {t:.2f}" for s, t in r.per_seed), VERDICT: r.verdict,
                          "data": f"{r.profile}, {r.data_set}", HOURS: f"{r.hours:.2f}"})
    return show_table(pd.DataFrame(shown))


def cost_sentence(rows: pd.DataFrame) -> str:
    """What the rows of ``headlines`` cost to train, from their records: the quantized runs, and the full-precision
    models they start from, each counted once however many rows share it."""
    if not len(rows):
        return "No headline row has a record yet."
    parents = sum({run: s for shared in rows["parent_seconds"] for run, s in shared.items()}.values()) / 3600
    return (f"Training hours behind these rows, as recorded on the CPUs that ran them: {rows['hours'].sum():.1f} for "
            f"the quantized runs, and {parents:.1f} more for the full-precision models they start from.")


def drop_figure(rows: pd.DataFrame) -> plt.Figure:
    """Every headline row's drop against bits: ours with ±2 sd error bars, the reference's as a marker, one panel per
    chapter."""
    chapters = list(dict.fromkeys(rows["chapter"])) if len(rows) else []
    fig, axes = plt.subplots(1, max(1, len(chapters)), figsize=(4.2 * max(1, len(chapters)), 3.4), squeeze=False)
    for ax, name in zip(axes[0], chapters):
        ours = rows[rows["chapter"] == name]
        for i, r in enumerate(ours.itertuples()):
            x = r.bits + 0.12 * (i % 4 - 1.5)
            ax.errorbar(x, r.drop, yerr=2 * (r.drop_sd or 0), fmt="o", capsize=3, label=r.row)
            if pd.notna(r.reference_drop):
                ax.plot(x, r.reference_drop, marker="x", color="black", markersize=8)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set(title=name, xlabel="bits", ylabel="accuracy drop (points)")
        ax.legend(fontsize=6, loc="best")
    if not chapters:
        axes[0][0].text(0.5, 0.5, "no lite record yet", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle("ours (dots, ±2 sd) against the reference's drop (x), lite profile, cifar10-jpeg", fontsize=9)
    fig.tight_layout()
    return fig
