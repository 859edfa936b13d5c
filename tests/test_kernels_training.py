"""End to end: training with the fused CPU kernels gives the same float32 model, bit for bit, as eager PyTorch.

The committed records' behaviour fingerprints run in float64, where the kernels never apply, so they cannot
tell. Here every kind of training run the chapters plan on a CPU (profiles smoke and lite, with the runs they
start from: each method, bit-width, model and SQ / INQ / ELQ variant) trains one short epoch (two steps of four
synthetic images, its end-of-epoch work, an evaluation) in float32 on one thread, in the contiguous and the
channels-last memory format, once with ``QREPRO_KERNELS=eager`` and once with the kernels; every tensor of the
final state and the epoch's metrics must be equal.
"""
import dataclasses

import pytest
import torch
from helpers import require_kernels

from qrepro.chapters import CHAPTERS, first_phase
from qrepro.config import TrainConfig
from qrepro.runs.behaviour import BATCH, synthetic_data
from qrepro.runs.build import CIFAR10_SHAPE, trainable
from qrepro.runs.shard import lineage
from qrepro.threads import torch_threads
from qrepro.train import fit

require_kernels()

CPU_PROFILES = ("smoke", "lite")


def kinds_of_training_runs() -> dict[str, TrainConfig]:
    """One planned training config per method, bit-width, model and option set that changes which code runs (the
    plans, not the records on disk: a fresh clone tests the same kinds)."""
    kinds: dict[str, TrainConfig] = {}
    planned = [run for name in CHAPTERS for profile in CPU_PROFILES for config in first_phase(name, profile=profile)
               for run in lineage(config)]
    for config in planned:
        if not isinstance(config, TrainConfig) or config.method == "fp":
            continue
        options = config.options
        variant = (options.get("ratio", 1) < 1, options.get("granularity"), options.get("partition"))
        kinds.setdefault(f"{config.method}-w{config.bits}-{config.arch}-{variant}", config)
    return kinds


KINDS = kinds_of_training_runs()


def trained(config: TrainConfig, kernels: str, channels_last: bool, monkeypatch
            ) -> tuple[list, dict[str, torch.Tensor]]:
    monkeypatch.setenv("QREPRO_KERNELS", kernels)
    data = synthetic_data(CIFAR10_SHAPE)
    with torch_threads(1):
        torch.manual_seed(config.seed)
        model, objective, _ = trainable(config, data)
        schedule = dataclasses.replace(config.schedule, epochs=1, batch_size=BATCH)
        history = fit(model, data, schedule, device=torch.device("cpu"), seed=config.seed, objective=objective,
                      progress=False, amp=False, channels_last=channels_last)
    metrics = [value for key, value in sorted(history[-1].items()) if key != "seconds"]
    return metrics, model.state_dict()


def test_every_method_is_covered():
    methods = {config.method for config in KINDS.values()}
    assert {"apot", "bwn", "twn", "ttq", "inq", "elq", "dorefa", "pdqat"} <= methods
    assert any(config.options.get("ratio", 1) < 1 for config in KINDS.values())  # SQ's hybrid weights


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("channels_last", [False, True])  # runs on real images train channels_last on a CPU
def test_training_with_the_kernels_equals_eager(kind, channels_last, monkeypatch):
    config = KINDS[kind]
    eager_metrics, eager = trained(config, "eager", channels_last, monkeypatch)
    fused_metrics, fused = trained(config, "compiled", channels_last, monkeypatch)
    assert fused_metrics == eager_metrics
    assert fused.keys() == eager.keys()
    for name in eager:
        assert same_bits(eager[name], fused[name]), name


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == torch.float32:  # -0 and +0 count as different, NaN as equal to the same NaN
        return torch.equal(a.reshape(-1).view(torch.int32), b.reshape(-1).view(torch.int32))
    return torch.equal(a, b)
