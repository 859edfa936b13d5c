"""Plots from run records and level sets (matplotlib / seaborn); each returns its matplotlib Figure."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def epochs_frame(records: Iterable[dict[str, Any]], label: str = "bits") -> pd.DataFrame:
    """Per-epoch metrics of training runs, one row per (run, epoch), with the run's config ``label``."""
    rows = []
    for record in records:
        for epoch in record.get("epochs", []):
            rows.append({"run_id": record["run_id"], label: record["config"][label], "seed": record["config"]["seed"],
                         **epoch})
    return pd.DataFrame(rows)


def training_curves(records: Iterable[dict[str, Any]], hue: str = "bits", title: str = "") -> plt.Figure:
    """Test top-1 and training loss per epoch, one line per ``hue`` value (mean and band over seeds)."""
    frame = epochs_frame(records, hue)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    sns.lineplot(frame, x="epoch", y="test_top1", hue=hue, palette="viridis", ax=axes[0])
    sns.lineplot(frame, x="epoch", y="train_loss", hue=hue, palette="viridis", ax=axes[1], legend=False)
    axes[0].set(ylabel="test top-1 (%)")
    axes[1].set(ylabel="training loss", yscale="log")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def level_sets(levels: Mapping[str, Sequence[float]], title: str = "") -> plt.Figure:
    """Each named level set as a row of ticks on [-1, 1]."""
    fig, ax = plt.subplots(figsize=(9, 0.5 + 0.45 * len(levels)))
    for row, values in enumerate(levels.values()):
        ax.scatter(values, [row] * len(values), marker="|", s=250)
    ax.set(yticks=range(len(levels)), yticklabels=list(levels), xlabel="level / alpha", title=title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def histogram_on_levels(levels: Sequence[float], counts: Sequence[int], title: str = "") -> plt.Figure:
    """How many weights sit on each quantization level (a bar per level)."""
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.bar(range(len(levels)), counts, color=sns.color_palette()[0])
    ax.set(xticks=range(len(levels)), xlabel="level / alpha", ylabel="weights", title=title)
    ax.set_xticklabels([f"{v:.3g}" for v in levels], rotation=90)
    fig.tight_layout()
    return fig


def per_layer(values: pd.DataFrame, x: str, y: str, hue: str | None = None, title: str = "") -> plt.Figure:
    """A bar plot of a per-layer quantity (layers in network order along x)."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    sns.barplot(values, x=x, y=y, hue=hue, ax=ax)
    ax.tick_params(axis="x", rotation=90)
    ax.set(title=title)
    fig.tight_layout()
    return fig
