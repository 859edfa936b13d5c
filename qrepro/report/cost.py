"""What a chapter costs: the training its default parameters plan, per profile (measured time: tables.cost_table)."""
from __future__ import annotations

import pandas as pd

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
