"""python -m qrepro check --device DEVICE: every method on every model it runs on, as training runs it there.

A lent GPU must not be spent finding bugs. For every (method, model) pair of the chapters' sweeps, ``check`` trains
two steps and evaluates one batch through the same ``fit`` and ``evaluate`` a run uses on that device (bf16
autocast on CUDA, ``torch.compile`` when asked), on 8x8 digits, and fails naming the method and model when the
loss or a parameter is not finite, when a parameter the optimizer trains got no gradient, or when a parameter,
buffer or output is not on the device; post-training methods quantize and evaluate there. It also checks that the
device-resident loader gives the CPU loader's batches for the same seed. It takes seconds on a CPU (the test
suite runs it) and is the first thing a GPU call runs.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from . import data as datasets
from .chapters import CHAPTERS, first_phase
from .methods import get_method
from .methods.base import Method
from .config import PTQConfig, TrainConfig
from .data import DeviceLoader, ImageData
from .profiles import channels_last_for, precision_for
from .runs.build import prepared_model, trainable
from .runs.shard import lineage
from .train import build_optimizer, evaluate, fit

TRAIN_IMAGES, TEST_IMAGES, BATCH = 32, 16, 16


@dataclass(frozen=True)
class Result:
    """One checked (method, model): what failed, if anything, and how long it took."""

    method: str
    arch: str
    error: str | None
    seconds: float


def pairs() -> Iterator[TrainConfig | PTQConfig]:
    """One smoke config per (method, model, kind) of every chapter's default sweep, parents included."""
    seen: set[tuple[str, str, str]] = set()
    for name in CHAPTERS:
        for config in first_phase(name, profile="smoke"):
            for run in lineage(config):
                key = (run.method, run.arch, run.kind)
                if key not in seen:
                    seen.add(key)
                    yield run


def small_digits() -> ImageData:
    full = datasets.load("digits")
    return dataclasses.replace(full, train_x=full.train_x[:TRAIN_IMAGES], train_y=full.train_y[:TRAIN_IMAGES],
                               test_x=full.test_x[:TEST_IMAGES], test_y=full.test_y[:TEST_IMAGES])


def _on_device(model: torch.nn.Module, device: torch.device) -> list[str]:
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return [name for name, t in tensors if t.device.type != device.type]


def check_training(config: TrainConfig, data: ImageData, device: torch.device, compile: bool) -> None:
    method = get_method(config.method)
    assert isinstance(method, Method)
    torch.manual_seed(0)
    model, objective, _ = trainable(config, data)
    schedule = dataclasses.replace(config.schedule, epochs=1, batch_size=BATCH)
    # in the memory format of runs on real images on this device (digits alone would train NCHW)
    channels_last = channels_last_for("cifar10", device.type)
    fit(model, data, schedule, device=device, objective=objective, progress=False, compile=compile,
        channels_last=channels_last, amp=precision_for("cifar10", device.type) == "bf16")
    trained = {id(p) for group in build_optimizer(model, schedule).param_groups for p in group["params"]}
    missing = [name for name, p in model.named_parameters() if id(p) in trained and p.grad is None]
    if missing:
        raise AssertionError(f"trained parameter(s) got no gradient: {missing}")
    wrong = _on_device(model, device)
    if wrong:
        raise AssertionError(f"not on {device}: {wrong}")
    check_round_trip(model, config, data, device, channels_last)


def check_round_trip(model: torch.nn.Module, config: TrainConfig, data: ImageData, device: torch.device,
                     channels_last: bool) -> None:
    """The trained state loads into a freshly prepared model, which then evaluates exactly as the trained one (what
    a child run or a resumed run relies on), and the record's summary of it is strict JSON. Both models have the
    same memory format: another one sums convolutions in another order, equal only to rounding."""
    method = get_method(config.method)
    assert isinstance(method, Method)
    json.dumps(method.summarize(model, config), allow_nan=False)
    fresh = prepared_model(config, data).to(device, memory_format=torch.channels_last if channels_last else
                                            torch.contiguous_format)
    fresh.load_state_dict(model.state_dict())
    loader = DeviceLoader(data, "test", BATCH, device=device)
    if evaluate(fresh, loader, device) != evaluate(model, loader, device):
        raise AssertionError("a model loaded from the trained state_dict evaluates differently")


def check_ptq(config: PTQConfig, data: ImageData, device: torch.device) -> None:
    torch.manual_seed(0)
    model = prepared_model(config.model, data).to(device)
    small = dataclasses.replace(config, calibration=min(config.calibration, TRAIN_IMAGES), batch_size=BATCH)
    get_method(config.method).quantize(model, data, small, device)
    result = evaluate(model, DeviceLoader(data, "test", BATCH, device=device), device)
    if not all(map(torch.isfinite, map(torch.tensor, result.values()))):
        raise AssertionError(f"evaluation is not finite: {result}")
    wrong = _on_device(model, device)
    if wrong:
        raise AssertionError(f"not on {device}: {wrong}")


def check_loader(data: ImageData, device: torch.device) -> None:
    """The loader's batches on ``device`` equal the CPU loader's for the same seed (both epochs' randomness)."""
    for epoch in range(2):
        here = DeviceLoader(data, "train", BATCH, device=device, seed=3)
        cpu = DeviceLoader(data, "train", BATCH, seed=3)
        here.epoch = cpu.epoch = epoch
        for (x, y), (x_cpu, y_cpu) in zip(here, cpu):
            if x.device.type != device.type or not (torch.equal(x.cpu(), x_cpu) and torch.equal(y.cpu(), y_cpu)):
                raise AssertionError(f"the loader's batches on {device} differ from the CPU's (epoch {epoch})")


def check(device: torch.device, compile: bool = False) -> list[Result]:
    """Check every (method, model) on ``device``; one Result each, the loader's as method "loader"."""
    data = small_digits()
    results = []
    start = time.perf_counter()
    try:
        check_loader(data, device)
        error = None
    except AssertionError as err:
        error = str(err)
    results.append(Result("loader", "-", error, time.perf_counter() - start))
    for config in pairs():
        start = time.perf_counter()
        try:
            if isinstance(config, TrainConfig):
                check_training(config, data, device, compile)
            else:
                check_ptq(config, data, device)
            error = None
        except (AssertionError, FloatingPointError, RuntimeError, ValueError) as err:
            error = f"{type(err).__name__}: {err}"
        results.append(Result(config.method, config.arch, error, time.perf_counter() - start))
    return results
