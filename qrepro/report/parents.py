"""The converged full-precision parents every lite chapter starts from (qrepro.chapters.parents): their training
curves over all their cosine cycles, whether they were still rising at the end, and what each cycle added over the
one before. Read from records only."""
from __future__ import annotations

import itertools
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..chapters import CHAPTERS
from ..chapters.parents import converged, cycles
from ..config import TrainConfig
from ..runs import find_record
from ..runs.shard import lineage
from .lite import params
from .stats import mean_std, series_mean_std

BAR = 88.5  # top-1 a converged parent of cifar10-jpeg reaches (the lite issue's bar; see the Reproduce page)
LAST = 10  # the closing epochs whose gain says whether a curve was still rising


def is_converged_parent(config: TrainConfig | Any) -> bool:
    """Whether ``config`` is the converged full-precision parent of its architecture, data and seed."""
    return (isinstance(config, TrainConfig) and config.method == "fp"
            and config == converged(config.arch, config.arch_options, config.data, config.seed, config.profile))


def converged_parents() -> list[TrainConfig]:
    """Every converged parent the lite chapters plan (three seeds each), once, in plan order."""
    found: dict[str, TrainConfig] = {}
    for name, chapter in CHAPTERS.items():
        if "lite" not in chapter.Params.SETTINGS:
            continue
        for planned in chapter.plan(params(name)):
            for config in lineage(planned.config):
                if is_converged_parent(config):
                    found.setdefault(config.run_id, config)
    return list(found.values())


def cycle_records(config: TrainConfig) -> list[tuple[dict[str, Any], int]]:
    """The records of the converged parent ``config``'s cosine cycles in order, each with its epochs, up to the first
    cycle not recorded yet."""
    recorded = []
    for run, epochs in zip(lineage(config), cycles(config.arch)):
        record = find_record(run)
        if record is None:
            break
        recorded.append((record, epochs))
    return recorded


def parent_curves() -> pd.DataFrame:
    """Test top-1 per epoch of every converged parent recorded with all its cycles, numbered from its first epoch."""
    rows = []
    for config in converged_parents():
        recorded = cycle_records(config)
        if len(recorded) < len(cycles(config.arch)):
            continue
        offset = 0
        for record, epochs in recorded:
            rows += [{"arch": config.arch, "seed": config.seed, "epoch": offset + e["epoch"],
                      "test_top1": e["test_top1"], "run_id": record["run_id"]} for e in record["epochs"]]
            offset += epochs
    return pd.DataFrame(rows, columns=["arch", "seed", "epoch", "test_top1", "run_id"])


def parent_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per parent: its final top-1, whether it reaches ``BAR``, and its gain over the last ``LAST`` epochs."""
    rows = []
    for (arch, seed), curve in curves.groupby(["arch", "seed"]):
        top1 = curve["test_top1"].to_numpy()
        rows.append({"arch": arch, "seed": seed, "epochs": len(top1), "top-1 (%)": top1[-1],
                     f"≥ {BAR} %": bool(top1[-1] >= BAR),
                     f"gain over the last {LAST} epochs": round(float(top1[-1] - top1[-LAST - 1]), 2),
                     "run": curve["run_id"].iloc[-1]})
    return pd.DataFrame(rows)


def parent_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per architecture (rows of ``parent_table``): the seeds recorded, their mean top-1 ± sample std, and whether the
    mean reaches ``BAR`` (the bar is on the mean over seeds)."""
    rows = []
    for arch, parents in table.groupby("arch", sort=False):
        top1 = parents["top-1 (%)"]
        rows.append({"arch": arch, "seeds": ", ".join(map(str, parents["seed"])), "n": len(top1),
                     "mean top-1 (%)": mean_std(top1.mean(), top1.std(), len(top1)),
                     f"mean ≥ {BAR} %": bool(top1.mean() >= BAR)})
    return pd.DataFrame(rows)


def cycle_ends() -> pd.DataFrame:
    """Per architecture, seed and cosine cycle of its converged parent: the cycle's epochs and the test top-1 at its
    end, for every cycle recorded so far (a seed's later cycles may still be training)."""
    rows = []
    for config in converged_parents():
        for cycle, (record, epochs) in enumerate(cycle_records(config), start=1):
            rows.append({"arch": config.arch, "seed": config.seed, "cycle": cycle, "epochs": epochs,
                         "top1": record["top1"]})
    return pd.DataFrame(rows, columns=["arch", "seed", "cycle", "epochs", "top1"])


def cycle_gains(ends: pd.DataFrame) -> pd.DataFrame:
    """Per architecture and cycle (rows of ``cycle_ends``): the seeds that finished it, their mean top-1 at its end,
    and what it added over the cycle before, paired by seed (mean ± sample std): what one more cycle buys."""
    rows = []
    for (arch, cycle), done in ends.groupby(["arch", "cycle"], sort=False):
        before = ends[(ends["arch"] == arch) & (ends["cycle"] == cycle - 1)].set_index("seed")["top1"]
        gain = done.set_index("seed")["top1"] - before.reindex(done["seed"])
        rows.append({"arch": arch, "cycle": cycle, "epochs": int(done["epochs"].iloc[0]),
                     "seeds": ", ".join(map(str, done["seed"])),
                     "mean top-1 at its end (%)": round(done["top1"].mean(), 2),
                     "gain over the cycle before (points)": "" if cycle == 1 else series_mean_std(gain, signed=True)})
    return pd.DataFrame(rows)


def parent_plot(curves: pd.DataFrame) -> plt.Figure:
    """Test top-1 against epoch, one line per seed, a panel per architecture; the restart and ``BAR`` marked."""
    archs = list(dict.fromkeys(curves["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(5.5 * len(archs), 3.6), squeeze=False, sharey=True)
    for ax, arch in zip(axes[0], archs):
        sns.lineplot(curves[curves["arch"] == arch], x="epoch", y="test_top1", hue="seed", ax=ax, palette="deep")
        for restart in itertools.accumulate(cycles(arch)[:-1]):
            ax.axvline(restart + 0.5, color="grey", linestyle=":", label="warm restart")
        ax.axhline(BAR, color="black", linewidth=0.8, linestyle="--", label=f"{BAR} %")
        ax.set(title=f"{arch}, cifar10-jpeg (lite)", xlabel="epoch", ylabel="test top-1 (%)", ylim=(40, 92))
    fig.tight_layout()
    return fig
