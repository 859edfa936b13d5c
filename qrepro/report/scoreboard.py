"""The scoreboard's table and plot: accuracy drop per method and bit-width, from run records only."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from pandas.io.formats.style import Styler

from ..algorithms.scoreboard import ENTRIES, Cell, arch, entry_bits
from ..runs import find_record
from .tables import run_link


def scoreboard_frame(cells: Iterable[Cell], records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per cell with a record of both its run and its full-precision model."""
    rows = []
    for c in cells:
        run, base = records.get(c.config.run_id), records.get(c.baseline.run_id)
        if run is None or base is None:
            continue
        rows.append({"profile": c.config.profile, "data_set": run["data_set"], "arch": c.config.arch,
                     "method": c.entry.label, "quantized": c.entry.quantized, "chapter": c.entry.chapter,
                     "bits": c.bits, "seed": c.seed, "top1": run["top1"], "fp_top1": base["top1"],
                     "drop": base["top1"] - run["top1"], "run_id": run["run_id"], "fp_run_id": base["run_id"]})
    return pd.DataFrame(rows)


def _cell_text(group: pd.DataFrame) -> str:
    drop, n = group["drop"], len(group)
    text = f"{drop.mean():+.2f}" + (f" ± {drop.std():.2f}" if n > 1 else "")
    links = ", ".join(run_link(i) for i in group["run_id"])
    return f"{text}<br>top-1 {group['top1'].mean():.2f}, n={n}<br>{links}"


def scoreboard_table(frame: pd.DataFrame, profile: str, data_set: str) -> Styler:
    """One profile's scoreboard. Rows: model x method; columns: bits. A cell is the drop against the
    full-precision model (mean ± std over seeds), its top-1, the seed count and links to the runs; "no record"
    where the profile has none for that cell, and empty where the method has no such bit-width."""
    all_bits = sorted({b for e in ENTRIES for b in e.bits})
    ran = frame[frame.profile == profile] if len(frame) else frame
    rows = []
    for entry in ENTRIES:
        row = {"model": arch(entry, profile), "method": entry.label, "quantized": entry.quantized}
        for bits in all_bits:
            if bits not in entry_bits(entry, profile):
                row[f"{bits} bit"] = ""
                continue
            match = ran[(ran.method == entry.label) & (ran.bits == bits)] if len(ran) else ran
            row[f"{bits} bit"] = _cell_text(match) if len(match) else f"no {profile} record"
        rows.append(row)
    caption = f"Profile {profile}, data set {data_set}: top-1 drop in points (quantized vs full precision)"
    return pd.DataFrame(rows).style.hide(axis="index").set_caption(caption)


def drop_plot(frame: pd.DataFrame, title: str = "") -> plt.Figure:
    """Accuracy drop against bits, one line per method (mean and band over seeds), one panel per model."""
    archs = list(dict.fromkeys(frame["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(5.5 * len(archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        sns.lineplot(frame[frame.arch == arch], x="bits", y="drop", hue="method", marker="o", ax=ax)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(title=arch, xlabel="bits", ylabel="top-1 drop vs full precision (points)",
               xticks=sorted(frame[frame.arch == arch]["bits"].unique()))
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def recorded(cells: Iterable[Cell]) -> dict[str, dict[str, Any]]:
    """The records that exist for the cells' runs and full-precision models, by run id (nothing is run)."""
    found = {}
    for c in cells:
        for config in (c.config, c.baseline):
            record = find_record(config)
            if record is not None:
                found[config.run_id] = record
    return found
