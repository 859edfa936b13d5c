"""GPU-facing code paths without host synchronizations: TWN's per-layer scale, SQ's layer draw, PD-QAT's dual step,
and the dual step summed over the processes of a data-parallel run. ``torch.compile(fullgraph=True)`` (dynamo,
eager backend) refuses any data-dependent Python branch, so it stands in for a GPU's sync counter on the CPU."""
import dataclasses
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from qrepro import data as datasets
from qrepro.chapters import pdqat
from qrepro.methods.sq import SQWeight, resample_layers
from qrepro.data import DeviceLoader
from qrepro.quantizers.binary import BWN
from qrepro.quantizers.ternary import twn
from qrepro.runs.build import DataShape, trainable

pytestmark = pytest.mark.usefixtures("one_thread")


def test_twn_per_layer_scale_has_no_data_dependent_branch_and_keeps_its_values():
    w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(lambda t: twn(t, "paper"), fullgraph=True, backend="eager")
    q = compiled(w)
    delta = 0.7 * w.abs().mean()
    kept = w.abs() > delta
    assert torch.allclose(q, torch.where(kept, w.abs()[kept].mean() * w.sign(), torch.zeros_like(w)), rtol=1e-6)
    assert torch.equal(twn(torch.zeros(3, 3), "paper"), torch.zeros(3, 3))  # nothing kept: all zero, no NaN


def test_sq_layer_draw_is_a_device_tensor_and_the_forward_one_graph():
    model = torch.nn.Sequential(*(torch.nn.Linear(4, 4) for _ in range(4)))
    from qrepro.nn import QLinear

    layers = [QLinear.from_float(layer, SQWeight(BWN(), 0.5, granularity="layer"), None) for layer in model]
    model = torch.nn.Sequential(*layers).train()
    resample_layers(model)
    chosen = [layer.weight_quantizer.selected for layer in layers]
    assert all(isinstance(s, torch.Tensor) and s.dim() == 0 for s in chosen) and sum(chosen) == 2
    compiled = torch.compile(layers[0].weight_quantizer, fullgraph=True, backend="eager")
    w = layers[0].weight
    assert torch.equal(compiled(w), BWN()(w) if chosen[0] else w)


def _dual_step(rank: int, world: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    full = datasets.load("digits")
    digits = dataclasses.replace(full, train_x=full.train_x[:256], train_y=full.train_y[:256])
    cfg = pdqat.run_config("pdqat", 2, {"constraint": "layerwise", "epsilon": 0.1, "epsilon_layer": 0.01},
                           arch="preact_resnet20", profile="smoke", data="digits", epochs=1, seed=0)
    torch.manual_seed(0)
    model, objective, _ = trainable(cfg, DataShape(in_channels=1, image_size=32, num_classes=10))
    loader = DeviceLoader(digits, "train", 64, seed=0, shard=(rank, world))
    metrics = objective.end_epoch(model, loader, 0)
    results[rank] = (objective.dual.tolist(), metrics["train_top1_low_eval"])
    if world > 1:
        dist.destroy_process_group()


@pytest.mark.slow
def test_the_dual_step_sums_every_process_shard_so_duals_agree():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    single: dict = {}
    _dual_step(0, 1, port, single)
    with mp.Manager() as manager:
        shared = manager.dict()
        mp.spawn(_dual_step, args=(2, port, shared), nprocs=2)
        parallel = dict(shared)
    assert parallel[0] == parallel[1]  # every process takes the same dual step
    assert parallel[0][0] == pytest.approx(single[0][0], rel=1e-5)  # the one of the whole split
    assert parallel[0][1] == pytest.approx(single[0][1])
