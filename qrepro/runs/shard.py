"""Split a sweep across GPUs or hosts by run id: each shard runs its own runs and writes its own records.

Runs that start from other runs (a 2-bit model from a 3-bit one, every post-training run from one trained
model) travel with their ancestors, so a shard never waits for another. Ancestors shared by every run of the
sweep (typically the one full-precision model) must be recorded before the shards start:
``python -m qrepro run CHAPTER ... --shared-only`` does that, then ``--shard K/N`` on each machine.
"""
from __future__ import annotations

import hashlib

from ..config import PTQConfig, TrainConfig

Config = TrainConfig | PTQConfig


def parent_of(config: Config) -> Config | None:
    """The run whose weights this run starts from (a trained model's init, a post-training run's model)."""
    return config.init if isinstance(config, TrainConfig) else config.model


def lineage(config: Config) -> list[Config]:
    """The chain of runs a run starts from, root first, ending with the run itself."""
    parent = parent_of(config)
    return (lineage(parent) if parent is not None else []) + [config]


def shared_ancestors(configs: list[Config]) -> list[Config]:
    """Runs that every run of the sweep starts from (or is), root first."""
    chains = [lineage(c) for c in configs]
    common = set.intersection(*({c.run_id for c in chain} for chain in chains)) if chains else set()
    return [c for c in chains[0] if c.run_id in common] if chains else []


def split(configs: list[Config], index: int, count: int) -> list[Config]:
    """The runs of shard ``index`` of ``count``: grouped by their first ancestor not shared by the whole
    sweep, groups assigned by a hash of that ancestor's run id. Shared ancestors belong to no shard."""
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in 0..{count - 1}, got {index}")
    shared = {c.run_id for c in shared_ancestors(configs)}
    mine = []
    for config in configs:
        if config.run_id in shared:
            continue
        key = next(c.run_id for c in lineage(config) if c.run_id not in shared)
        if int(hashlib.sha256(key.encode()).hexdigest(), 16) % count == index:
            mine.append(config)
    return mine
