"""What a chapter costs: the training its default parameters plan, per profile (measured time: tables.cost_table),
and the recorded speed and memory benchmarks."""
from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..algorithms import SWEEPS
from ..config import TrainConfig
from ..profiles import PROFILES
from ..runs.shard import lineage


def planned_work(profiles: tuple[str, ...] = tuple(PROFILES)) -> pd.DataFrame:
    """Per chapter and profile, for the chapter's default parameters: training runs and the training epochs
    (passes over the training split) they add up to, parents included, and post-training runs."""
    rows = []
    for chapter, sweep in SWEEPS.items():
        for profile in profiles:
            runs = {c.run_id: c for config in sweep(profile=profile) for c in lineage(config)}.values()
            training = [c for c in runs if isinstance(c, TrainConfig)]
            rows.append({"chapter": chapter, "profile": profile, "data set": training[0].data,
                         "training runs": len(training), "training epochs": sum(c.schedule.epochs for c in training),
                         "post-training runs": len(runs) - len(training)})
    return pd.DataFrame(rows)


def benchmark_table(result: dict[str, Any]) -> Styler:
    """One recorded benchmark (``qrepro.bench.recorded``): its rows, captioned with where and from which code
    they were measured."""
    code = f"commit {result['commit'][:10]}" + (" with uncommitted changes" if result["dirty"] else "")
    caption = f"{result['benchmark']}: {result['device']}, torch {result['torch']}, {code}, {result['date'][:10]}"
    rows = pd.DataFrame(result["rows"])
    return (rows.style.hide(axis="index").format("{:.4g}", subset=list(rows.select_dtypes("float").columns),
                                                 na_rep="–").set_caption(caption))
