"""What a chapter costs: the training its default parameters plan, per profile (measured time: tables.cost_table),
and the recorded speed and memory benchmarks."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from pandas.io.formats.style import Styler

from ..chapters import CHAPTERS, first_phase
from ..config import TrainConfig
from ..profiles import PROFILES
from ..runs import find_record, record_config
from ..runs.shard import lineage


def planned_work(profiles: tuple[str, ...] = tuple(PROFILES)) -> pd.DataFrame:
    """Per chapter and profile, for the chapter's default parameters: training runs and the training epochs
    (passes over the training split) they add up to, parents included, and post-training runs."""
    rows = []
    for chapter in CHAPTERS:
        for profile in profiles:
            try:
                planned = first_phase(chapter, profile=profile)
            except ValueError:  # a profile this chapter does not have (lite is the scoreboard's)
                continue
            runs = {c.run_id: c for config in planned for c in lineage(config)}.values()
            training = [c for c in runs if isinstance(c, TrainConfig)]
            rows.append({"chapter": chapter, "profile": profile, "data set": training[0].data,
                         "training runs": len(training), "training epochs": sum(c.schedule.epochs for c in training),
                         "post-training runs": len(runs) - len(training)})
    return pd.DataFrame(rows)


def run_costs(runs: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Measured cost of every recorded run of one profile: its model, method, bits, epochs, seconds per epoch and
    minutes (post-training runs: the quantization itself), on which device, slowest per epoch first."""
    ran = runs[runs["profile"] == profile]
    out = ran.assign(seconds_per_epoch=(ran["wall_time_s"] / ran["epochs"]).round(1),
                     minutes=(ran["wall_time_s"] / 60).round(1))
    columns = ["chapter", "arch", "method", "variant", "bits", "epochs", "seconds_per_epoch", "minutes", "device"]
    return out.sort_values(["seconds_per_epoch", "minutes"], ascending=False)[columns].reset_index(drop=True)


def training_seconds(records: Iterable[dict[str, Any]], full_precision: bool = False) -> dict[str, float]:
    """The recorded wall time of every run behind ``records``, by run id, each run once: the runs themselves and the
    quantized runs they descend from (a progressive 2-bit run's 3- and 4-bit stages, a staged row's earlier stages);
    with ``full_precision``, instead the full-precision (32-bit) models they start from, which the rows of a chapter
    share. A run with no record here counts 0."""
    seconds: dict[str, float] = {}
    for record in records:
        for config in lineage(record_config(record)):
            if (config.bits == 32) == full_precision and config.run_id not in seconds:
                ancestor = record if config.run_id == record["run_id"] else find_record(config)
                seconds[config.run_id] = ancestor["wall_time_s"] if ancestor else 0.0
    return seconds


def benchmark_table(result: dict[str, Any]) -> Styler:
    """One recorded benchmark (``qrepro.bench.recorded``): its rows, captioned with where and from which code
    they were measured."""
    code = f"commit {(result['commit'] or 'unknown')[:10]}" + (" with uncommitted changes" if result["dirty"] else "")
    caption = f"{result['benchmark']}: {result['device']}, torch {result['torch']}, {code}, {result['date'][:10]}"
    rows = pd.DataFrame(result["rows"])
    return (rows.style.hide(axis="index").format("{:.4g}", subset=list(rows.select_dtypes("float").columns),
                                                 na_rep="–").set_caption(caption))


def precision_plot(result: dict[str, Any]) -> plt.Figure:
    """The ``precision_curves`` benchmark: test top-1 after every epoch under fp32 and bf16 autocast, one panel
    per case, the two precisions side by side."""
    rows = pd.DataFrame(result["rows"])
    rows["run"] = [f"{p}, seed {s}" for p, s in zip(rows["precision"], rows.get("seed", [0] * len(rows)))]
    grid = sns.relplot(rows, x="epoch", y="test_top1", hue="run", col="case", kind="line", marker="o",
                       height=3.2, aspect=1.3, facet_kws={"sharey": False})
    grid.set_axis_labels("epoch", "test top-1 (%), evaluated in float32")
    grid.figure.suptitle(f"training precision on {result['device']} ({result['date'][:10]})", y=1.04)
    return grid.figure
