"""Data-parallel training under torchrun (gloo, 2 CPU processes) and splitting a sweep across machines."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from qrepro import data
from qrepro.chapters import first_phase
from qrepro.data import DeviceLoader
from qrepro.runs.shard import lineage, shared_ancestors, split


def test_sharded_loader_batches_partition_the_unsharded_ones():
    digits = data.load("digits")
    whole = DeviceLoader(digits, "train", 64, seed=3)
    shards = [DeviceLoader(digits, "train", 64, seed=3, shard=(rank, 2)) for rank in range(2)]
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *shards):
        assert torch.equal(torch.cat([x0, x1]), x) and torch.equal(torch.cat([y0, y1]), y)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRAIN = ["-m", "qrepro", "train", "--arch", "lenet5", "--epochs", "3", "--batch-size", "64", "--lr", "0.1",
         "--no-progress", "--device", "cpu"]


def train(runs, launcher: list[str]) -> dict:
    env = {**os.environ, "QREPRO_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, *launcher, *TRAIN], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    records = list((runs / "cli").glob("*/record.json"))
    assert len(records) == 1  # written once, by the main process
    return json.loads(records[0].read_text())


@pytest.mark.slow
def test_torchrun_two_processes_train_like_one(tmp_path):
    """LeNet-5 has no BatchNorm: DDP over 2 shards of each batch must follow the one-process run."""
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                "--master_port", str(free_port())]
    parallel = train(tmp_path / "ddp", torchrun)
    single = train(tmp_path / "single", [])
    assert (parallel["processes"], single["processes"]) == (2, 1)
    assert parallel["run_id"] == single["run_id"]  # same config: the process count is not part of it
    for p, s in zip(parallel["epochs"], single["epochs"]):
        assert abs(p["train_loss"] - s["train_loss"]) < 1e-3 * s["train_loss"]
        assert abs(p["test_top1"] - s["test_top1"]) <= 1.0
    assert parallel["top1"] > 40  # chance is 10%


def test_sweep_shards_keep_chains_together_and_cover_every_run_once():
    configs = first_phase("apot", bit="2", seeds=4)  # four independent chains 32 -> 4 -> 3 -> 2
    assert shared_ancestors(configs) == []
    shards = [split(configs, k, 3) for k in range(3)]
    assert sorted(c.run_id for s in shards for c in s) == sorted(c.run_id for c in configs)
    for shard in shards:
        ids = {c.run_id for c in shard}
        assert all(parent.run_id in ids for c in shard for parent in lineage(c))  # a shard never waits


def test_shared_ancestors_are_left_out_of_every_shard():
    configs = first_phase("apot", bit="4,3,2")  # one chain: the full-precision model is shared by every run
    shared = {c.run_id for c in shared_ancestors(configs)}
    assert configs[0].run_id in shared
    assert all(c.run_id not in shared for k in range(2) for c in split(configs, k, 2))
