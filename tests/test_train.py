"""The training loop learns, quantized training learns, and a killed run resumes to the same record."""
import dataclasses

import pytest
import torch

from helpers import epoch_metrics, killed_and_resumed

from qrepro import models
from qrepro.chapters import first_phase
from qrepro.methods import get_method
from qrepro.config import Schedule, TrainConfig
from qrepro.runs import get_or_run
from qrepro.train import build_optimizer, build_scheduler


@pytest.mark.slow
def test_full_precision_training_on_digits_beats_chance_by_far(runs_root):
    config = TrainConfig(chapter="t", data="digits", arch="lenet5",
                         schedule=Schedule(epochs=10, batch_size=64, lr=0.05, weight_decay=5e-4))
    record = get_or_run(config, progress=False)
    assert record["top1"] > 85  # chance is 10%
    assert record["epochs"][-1]["train_loss"] < record["epochs"][0]["train_loss"]


@pytest.mark.slow
def test_two_bit_apot_chain_trains_on_digits(runs_root):
    configs = first_phase("apot", bit=2, epochs=3)
    records = [get_or_run(c, progress=False) for c in configs]
    assert [r["config"]["bits"] for r in records] == [32, 4, 3, 2]
    two_bit = records[-1]
    assert two_bit["top1"] > 60  # chance is 10%
    assert two_bit["init"]["from"] == records[-2]["run_id"]
    alphas = [layer["weight_alpha"] for layer in two_bit["summary"]["layers"].values()]
    assert len(alphas) == 20 and any(abs(a - 3.0) > 1e-3 for a in alphas)  # clipping was learned


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_record(runs_root, monkeypatch):
    config = first_phase("apot", bit=4, epochs=3)[-1]  # a 4-bit run (and its full-precision parent)
    uninterrupted = get_or_run(config, progress=False)

    killed = dataclasses.replace(config, chapter="t2")  # same run, recorded elsewhere
    resumed = killed_and_resumed(killed, monkeypatch, after_epochs=2)
    assert epoch_metrics(resumed) == epoch_metrics(uninterrupted)
    assert resumed["top1"] == uninterrupted["top1"] and resumed["summary"] == uninterrupted["summary"]


def test_clipping_values_get_their_own_learning_rates_and_decay_on_schedule():
    config = first_phase("apot", bit=4, profile="smoke")[-1]
    model = models.create("resnet20", in_channels=1, shortcut="B")
    get_method("apot").prepare(model, config)
    optimizer = build_optimizer(model, config.schedule)
    groups = {g["name"]: (g["lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups}
    assert groups["act_quantizer.alpha"] == (0.1, 1e-4, 20)
    assert groups["weight_quantizer.alpha"] == (0.02, 1e-4, 20)
    assert groups["default"][:2] == (0.04, 1e-4)
    scheduler = build_scheduler(optimizer, config.schedule)  # 6 epochs: x0.1 at 3 and 4
    lrs = []
    for _ in range(config.schedule.epochs):
        lrs.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.001, 0.001])


def test_a_checkpoint_loads_on_the_cpu_so_its_rng_state_can_be_restored_on_any_device(tmp_path):
    from qrepro.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"history": [], "rng": rng_state()})
    state = load_checkpoint(path)
    assert state["rng"]["torch"].device.type == "cpu" and state["rng"]["torch"].dtype == torch.uint8
    set_rng_state(state["rng"])  # TypeError "RNG state must be a torch.ByteTensor" had it been moved to a GPU
    assert not list(tmp_path.glob(".*.tmp"))
