"""The scoreboard's table and plot: accuracy drop per method and bit-width, from run records only."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from pandas.io.formats.style import Styler

from ..chapters import scoreboard
from ..chapters.scoreboard import SETTINGS, Cell, Params, entries, entry_bits, plan
from ..methods import get_method
from ..runs import find_record
from .protocol import epochs
from .stats import series_mean_std
from .tables import run_link

# the profiles whose numbers come from CIFAR-10 images, and the data sets they may run on
REAL_PROFILES = tuple(p for p in SETTINGS if p != "smoke")
REAL_DATA = ("cifar10", "cifar10-jpeg")


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
                     "drop": base["top1"] - run["top1"], "run_id": run["run_id"], "fp_run_id": base["run_id"],
                     "fp_epochs": epochs(c.baseline), "budget": budget(c), "date": run["date"][:10],
                     "device": run["device"], "fp_date": base["date"][:10], "fp_device": base["device"]})
    return pd.DataFrame(rows)


def budget(cell: Cell) -> int | None:
    """The epochs a cell's quantized model trained from its full-precision model (all stages); None post-training."""
    epochs, config = 0, cell.config
    while getattr(config, "init", None) is not None and config.method != "fp":
        epochs, config = epochs + config.schedule.epochs, config.init
    return epochs or None


def real_data_cells(seeds: int = 3) -> list[Cell]:
    """The scoreboard cells of every CIFAR-10 profile and data set, for seeds 0 .. seeds-1 (what may have records)."""
    return [c for profile in REAL_PROFILES for data in REAL_DATA for c in plan(Params(profile, data, 0, seeds))]


def protocol(frame: pd.DataFrame) -> str:
    """The schedule, seeds, dates and devices behind the rows of one profile and data set, in words."""
    fp_epochs = " or ".join(map(str, sorted(set(frame["fp_epochs"]))))
    budgets = "/".join(str(b) for b in sorted({int(b) for b in frame["budget"].dropna()}))
    dates = sorted(set(frame["date"]) | set(frame["fp_date"]))
    devices = sorted(set(frame["device"]) | set(frame["fp_device"]))
    seeds = ", ".join(map(str, sorted(set(frame["seed"]))))
    parts = [f"Full precision {fp_epochs} epochs"]
    if budgets:
        parts.append(f"quantization-aware training {budgets} epochs from it")
    if frame["budget"].isna().any():
        parts.append("post-training methods quantize it without training")
    when = dates[0] + (f" to {dates[-1]}" if len(dates) > 1 else "")
    return f"{'; '.join(parts)}; seeds {seeds}; run {when} on {'; '.join(devices)}"


def levels_text(method: str, bits: int) -> str:
    """What ``bits`` means for ``method`` (``Method.levels``): "3 levels" (weights only) or "3 / 4 levels" (weights /
    activations)."""
    weights, activations = get_method(method).levels(bits)
    return f"{weights} levels" if activations is None else f"{weights} / {activations} levels"


def _cell_text(group: pd.DataFrame, levels: str) -> str:
    drop, n = group["drop"], len(group)
    text = series_mean_std(drop, signed=True)
    links = ", ".join(run_link(i) for i in group["run_id"])
    return f"{text}<br>top-1 {group['top1'].mean():.2f}, n={n}, {levels}<br>{links}"


def scoreboard_table(frame: pd.DataFrame, profile: str, data_set: str) -> Styler:
    """One profile's scoreboard. Rows: model x method; columns: bits. A cell is the drop against the
    full-precision model (mean ± std over seeds), its top-1, the seed count, how many levels its weights (and
    activations, where quantized) take, and links to the runs; "no record" where the profile has none for that
    cell, and empty where the method has no such bit-width."""
    all_bits = sorted({b for e in entries() for b in e.bits})
    ran = frame[frame.profile == profile] if len(frame) else frame
    rows = []
    for entry in entries():
        row = {"model": scoreboard.arch(entry, profile), "method": entry.label, "quantized": entry.quantized}
        for bits in all_bits:
            if bits not in entry_bits(entry, profile):
                row[f"{bits} bit"] = ""
                continue
            match = ran[(ran.method == entry.label) & (ran.bits == bits)] if len(ran) else ran
            levels = levels_text(entry.method, bits)
            row[f"{bits} bit"] = _cell_text(match, levels) if len(match) else f"no {profile} record ({levels})"
        rows.append(row)
    caption = f"Profile {profile}, data set {data_set}: top-1 drop in points (quantized vs full precision)"
    if len(ran):
        caption += f". {protocol(ran)}"
    return pd.DataFrame(rows).style.hide(axis="index").set_caption(caption)


LITE_COMMAND = "python -m qrepro run scoreboard -p profile lite -p seeds 3 --keep-going"


def real_data_tables(frame: pd.DataFrame) -> list[Any]:
    """The scoreboard's CIFAR-10 tables, one per profile and data set (``scoreboard_table``), or (as IPython
    Markdown) a sentence naming the command that makes them."""
    from IPython.display import Markdown  # pages only: the package itself runs without Jupyter

    if not len(frame):
        return [Markdown(f"No CIFAR-10 record yet: `{LITE_COMMAND}` makes them (see the Reproduce page).")]
    return [scoreboard_table(group, profile, data_set)
            for (profile, data_set), group in frame.groupby(["profile", "data_set"], sort=False)]


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


@dataclass(frozen=True)
class Page:
    """What the scoreboard page shows: every real-data cell with records, and the smoke cells of its parameters."""

    records: dict[str, dict[str, Any]]  # every run behind the page, by run id
    real: pd.DataFrame  # CIFAR-10 cells of every profile and data set
    smoke: pd.DataFrame  # the smoke cells on ``smoke_data``
    smoke_data: str


def page(params: Params) -> Page:
    """The page for the notebook's parameters: real-data cells for seeds 0..max(seeds, 3)-1 from whatever records
    exist (never run here), and the smoke cells (``epochs`` applies to them when the page runs smoke)."""
    real_cells = real_data_cells(seeds=max(params.seeds, 3))
    smoke_data = scoreboard.profile_data("smoke", params.data)
    smoke_params = Params("smoke", params.data, params.epochs if params.profile == "smoke" else 0, params.seeds)
    smoke_cells = plan(smoke_params)
    records = recorded(real_cells + smoke_cells)
    return Page(records, scoreboard_frame(real_cells, records), scoreboard_frame(smoke_cells, records), smoke_data)


def recorded(cells: Iterable[Cell]) -> dict[str, dict[str, Any]]:
    """The records that exist for the cells' runs and full-precision models, by run id (nothing is run)."""
    found = {}
    for c in cells:
        for config in (c.config, c.baseline):
            record = find_record(config)
            if record is not None:
                found[config.run_id] = record
    return found
