"""APoT-specific views of run records: learned clipping values per layer, weights per APoT level."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..methods import apot
from ..runs import Shown
from .compare import accuracy_table, headline_rows
from .lite import planned_runs
from .plots import histogram_on_levels
from .reference import paper_table


def headline(shown: Shown) -> pd.DataFrame:
    """The chapter's headline rows (report.compare.headline_rows): APoT at each bit-width against the paper's drop."""
    runs = planned_runs(shown)
    if runs.empty:
        return headline_rows(runs, [])
    paper = paper_table("apot")
    table = accuracy_table(runs, paper=paper[paper.source == "paper"])
    table = table[table["bits"] != 32].sort_values("bits", ascending=False)
    return headline_rows(table, [f"APoT, {b}-bit weights and activations" for b in table["bits"]])


def clipping_values(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, quantized layer): bits, seed, layer, learned weight and activation alpha."""
    rows = [
        {"bits": r["config"]["bits"], "seed": r["config"]["seed"], "layer": layer,
         "weight alpha": weight_alpha, "activation alpha": act_alpha}
        for r in records
        for layer, (weight_alpha, act_alpha) in apot.clipping_values(r).items()
    ]
    return pd.DataFrame(rows)


def lowest_bit_histogram(records: Iterable[dict[str, Any]]) -> plt.Figure:
    """Weights per APoT level, all quantized layers, of the run with the lowest bit-width (the first such run)."""
    lowest = min((r for r in records if r["config"]["bits"] < 32), key=lambda r: r["config"]["bits"])
    levels, counts = apot.weights_per_level(lowest)
    return histogram_on_levels(levels, counts, title=f"{lowest['config']['bits']}-bit weights ({lowest['run_id']})")


def clipping_plot(records: Iterable[dict[str, Any]]) -> plt.Figure:
    """Learned weight and activation alpha per layer (network order), one line per bit-width."""
    alphas = clipping_values(records)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, column in zip(axes, ["weight alpha", "activation alpha"]):
        per_layer = alphas.pivot_table(index="layer", columns="bits", values=column, sort=False)
        per_layer.plot(ax=ax, marker="o")
        ax.set(ylabel=column)
    axes[1].set_xticks(range(len(per_layer)), per_layer.index, rotation=90)
    fig.tight_layout()
    return fig
