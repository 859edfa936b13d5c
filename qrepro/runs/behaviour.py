"""What a run's code computes, as a small fingerprint: records stay current while it matches.

A record is a claim about code that may since have changed. The bytes of the package are the wrong test (a
docstring or a refactor would flag records that cost CPU-hours); the behaviour of the code that made the run is
the right one. ``behaviour_fingerprint(config, shape)`` trains the run's method and model for one short epoch
(two steps of four synthetic images, then its end-of-epoch work and an evaluation) on one CPU thread in float64,
from a fixed seed, and hashes what comes out: the losses and accuracies, and the sum and absolute sum of every
tensor of the final state. A post-training run quantizes its model's random initialization from four
calibration images instead. Any change to the quantizers, layers, models, optimizer, schedule or loop that the
run uses changes the fingerprint; code the run does not use does not. Values are rounded to 9 significant
digits, so that the float64 result of one machine equals another's.

One short epoch cannot see what happens over a run's life. A training run's record therefore also keeps a
second identity, ``lifecycle_fingerprint``: the learning rate of every epoch of its real schedule, two epochs on
synthetic images with the augmentation of its real data set, a partial last batch in each split and a learning
rate that changes between the epochs, stopped after the first and resumed from the checkpoint, and the bytes of
the compiled CPU kernels' sources (the float64 runs never reach them). A record made before this identity
existed is checked by the first one only. When kernels change without changing a result (one removed after
tests proved it equal to eager bit for bit), ``EQUIVALENT_KERNELS`` maps the old sources' identity to the new one,
so the records made with the old stay current; a later change of the new sources ends that, as any kernel change.

Computing one takes 0.05-0.3 s, and every chapter checks every record it shows, so fingerprints are kept on disk
(``store_dir``), under the hash of the package's source bytes as this process loaded them and the torch version:
the same bytes on the same torch compute the same, and any edit of the package starts an empty store. A process
whose files were edited after it started keeps nothing there.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_path
from ..cache import cache_dir
from ..methods import get_method
from ..config import PTQConfig, Schedule, TrainConfig, config_from_dict
from ..data import DeviceLoader, ImageData, augmentation
from ..data.dataset import channel_stats
from ..threads import torch_threads
from ..train import evaluate, fit
from ..train.distributed import single_process
from ..train.optim import build_optimizer, build_scheduler
from .build import DataShape, prepared_model, trainable
from .provenance import LOADED_SOURCE, PACKAGE_DIR, files_changed_since_import

SIGNIFICANT_DIGITS = 9
TRAIN_IMAGES, TEST_IMAGES, BATCH = 8, 4, 4


LIFECYCLE_TRAIN, LIFECYCLE_TEST = 10, 6  # with BATCH 4, the last batch of each split is partial


def synthetic_data(shape: DataShape, train: int = TRAIN_IMAGES, test: int = TEST_IMAGES, crop_pad: int = 1,
                   flip: bool = True) -> ImageData:
    """Fixed random uint8 images of ``shape`` (at most 16 x 16: the code path, not the image, is what counts)."""
    size = min(shape.image_size, 16)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (train + test, shape.in_channels, size, size), generator=g, dtype=torch.uint8)
    labels = torch.arange(train + test) % shape.num_classes
    mean, std = channel_stats(images[:train])
    return ImageData("synthetic", images[:train], labels[:train], images[train:], labels[train:],
                     tuple(str(c) for c in range(shape.num_classes)), mean, std, crop_pad, flip)


@contextmanager
def float64_one_thread() -> Iterator[None]:
    """float64, one thread, and this process on its own (under torchrun every process computes its fingerprints
    for itself, with no collective between them)."""
    dtype, rng = torch.get_default_dtype(), torch.get_rng_state()
    torch.set_default_dtype(torch.float64)
    try:
        with torch_threads(1), single_process():
            yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_rng_state(rng)


def _values(state: dict[str, torch.Tensor]) -> Iterator[float]:
    for name in sorted(state):
        tensor = state[name].detach().double()
        yield tensor.sum().item()
        yield tensor.abs().sum().item()


def _train_values(config: TrainConfig, data: ImageData) -> list[float]:
    torch.manual_seed(config.seed)
    model, objective, _ = trainable(config, data)
    schedule = dataclasses.replace(config.schedule, epochs=1, batch_size=BATCH)
    history = fit(model, data, schedule, device=torch.device("cpu"), seed=config.seed, objective=objective,
                  progress=False, amp=False)
    metrics = [v for key, v in sorted(history[-1].items()) if key != "seconds" and isinstance(v, (int, float))]
    return metrics + list(_values(model.state_dict()))


def schedule_trace(schedule: Schedule) -> list[float]:
    """The learning rate of every epoch of ``schedule``, as a run's optimizer and scheduler step it."""
    optimizer = build_optimizer(torch.nn.Linear(1, 1), schedule)
    scheduler = build_scheduler(optimizer, schedule)
    rates = []
    for _ in range(schedule.epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def _lifecycle_values(config: TrainConfig, data: ImageData) -> list[float]:
    """Two epochs whose learning rate changes between them, stopped after the first and resumed from its checkpoint
    by a fresh model (as a new process resumes a killed run): the metrics of both epochs and the final state."""
    short = dataclasses.replace(config.schedule, epochs=2, batch_size=BATCH,
                                milestones=(1,) if config.schedule.milestones else ())
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "checkpoint.pt"
        history = []
        for stop_after in (1, None):
            torch.manual_seed(config.seed)
            model, objective, _ = trainable(config, data)
            history = fit(model, data, short, device=torch.device("cpu"), seed=config.seed, objective=objective,
                          checkpoint=checkpoint, progress=False, amp=False, stop_after=stop_after)
    metrics = [v for epoch in history for key, v in sorted(epoch.items())
               if key != "seconds" and isinstance(v, (int, float))]
    return metrics + list(_values(model.state_dict()))


def kernel_sources() -> str:
    """sha256 (12 hex digits) of the compiled CPU kernels' C++ sources."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.cpp")) + sorted(PACKAGE_DIR.rglob("*.h")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# kernel sources' identity -> the identity that replaced it, computing the same: the weight quantizers' kernels
# (weight_kernels.cpp, and the signed weights' lookup in cpu_kernels.cpp) were removed, each proved equal to its
# eager formula bit for bit by tests/test_weight_kernels.py and tests/test_kernels_training.py up to that change
EQUIVALENT_KERNELS = {"853d1e04de7d": "ce147cb6abd2"}


def kernel_identities() -> tuple[str, ...]:
    """The current kernel sources' identity, then every earlier one that computes the same (``EQUIVALENT_KERNELS``,
    followed back from the current one)."""
    identities = [kernel_sources()]
    for identity in identities:  # grows while it is read: each identity's predecessors, then theirs
        identities += [old for old, new in EQUIVALENT_KERNELS.items() if new == identity and old not in identities]
    return tuple(identities)


def _ptq_values(config: PTQConfig, data: ImageData) -> list[float]:
    parent = config.model
    torch.manual_seed(config.seed)
    model = prepared_model(parent, data)
    small = dataclasses.replace(config, calibration=min(config.calibration, TRAIN_IMAGES), batch_size=BATCH)
    get_method(config.method).quantize(model, data, small, torch.device("cpu"))
    test = evaluate(model, DeviceLoader(data, "test", BATCH), torch.device("cpu"))
    return [test[k] for k in sorted(test)] + list(_values(model.state_dict()))


def store_dir() -> Path | None:
    """Where fingerprints computed by the package source this process loaded, on this torch, are kept (None:
    nowhere)."""
    return cache_dir() / "behaviour" / f"{LOADED_SOURCE}-torch{torch.__version__}"


@lru_cache(maxsize=1024)
def _stored_fingerprint(kind: str, config_json: str, shape: DataShape) -> str:
    """``_fingerprint`` (kind "behaviour") or ``_lifecycle`` (kind "lifecycle"), read from the store when this source
    has computed it before, else computed and kept."""
    compute = {"behaviour": _fingerprint,
               "lifecycle": lambda config, data: _lifecycle_fingerprint(config, data, kernel_sources())}[kind]
    store = store_dir()
    if store is None:
        return compute(config_json, shape)
    key = hashlib.sha256(f"{config_json}|{dataclasses.astuple(shape)}".encode()).hexdigest()[:32]
    path = store / (f"{key}.txt" if kind == "behaviour" else f"{key}.{kind}.txt")
    kept = path.read_text().strip() if path.exists() else ""
    if re.fullmatch(r"[0-9a-f]{12}", kept):
        return kept
    fingerprint = compute(config_json, shape)
    if not files_changed_since_import():  # kept only while the files are still the code this process runs
        with atomic_path(path) as tmp:
            tmp.write_text(fingerprint)
    return fingerprint


@lru_cache(maxsize=256)
def _fingerprint(config_json: str, shape: DataShape) -> str:
    config = config_from_dict(json.loads(config_json))
    data = synthetic_data(shape)
    with float64_one_thread():
        values = _train_values(config, data) if isinstance(config, TrainConfig) else _ptq_values(config, data)
    return _hash(values)


def _hash(values: list[float], *tail: str) -> str:
    """12 hex digits of ``values`` at ``SIGNIFICANT_DIGITS`` (and of any ``tail`` text after them)."""
    text = ",".join(f"{v:.{SIGNIFICANT_DIGITS - 1}e}" for v in values) + "".join(tail)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@lru_cache(maxsize=256)
def _lifecycle(config_json: str, shape: DataShape) -> tuple[tuple[float, ...], str]:
    """The values a training run's life computes here, and how it ended ("" or the divergence)."""
    config = config_from_dict(json.loads(config_json))
    crop_pad, flip = augmentation(config.data)
    data = synthetic_data(shape, LIFECYCLE_TRAIN, LIFECYCLE_TEST, crop_pad, flip)
    with float64_one_thread():
        values, ending = schedule_trace(config.schedule), ""
        try:
            values += _lifecycle_values(config, data)
        except FloatingPointError as err:  # a run that diverges here (e.g. a huge learning rate) does so each time
            ending = f"|{err}"
    return tuple(values), ending


def _lifecycle_fingerprint(config_json: str, shape: DataShape, kernels: str) -> str:
    values, ending = _lifecycle(config_json, shape)
    return _hash(list(values), ending, f"|kernels {kernels}")


def lifecycle_fingerprint(config: TrainConfig, shape: DataShape, kernels: str | None = None) -> str:
    """12 hex digits that change when what a training run does over its life (schedule, batches, augmentation,
    resume, compiled kernels) changes; see the module. ``kernels``: the kernel sources' identity to hash (default:
    the current one, ``kernel_sources``)."""
    config_json = json.dumps(config.to_dict(), sort_keys=True)
    if kernels is None or kernels == kernel_sources():
        return _stored_fingerprint("lifecycle", config_json, shape)
    return _lifecycle_fingerprint(config_json, shape, kernels)


def behaviour_fingerprint(config: TrainConfig | PTQConfig, shape: DataShape) -> str:
    """12 hex digits that change when the code this run uses computes something else (see the module)."""
    return _stored_fingerprint("behaviour", json.dumps(config.to_dict(), sort_keys=True), shape)


def is_stale(record: dict[str, Any]) -> bool:
    """True when the code here computes something other than what made the record (its behaviour fingerprint, and
    its lifecycle fingerprint where it has one), or when the run it started from has been run again since."""
    from .record import record_config

    code = record.get("code") or {}
    if "behaviour" not in code or "data_shape" not in record:
        return True
    config, shape = record_config(record), DataShape(**record["data_shape"])
    if code["behaviour"] != behaviour_fingerprint(config, shape):
        return True
    if "lifecycle" in code and all(code["lifecycle"] != lifecycle_fingerprint(config, shape, kernels)
                                   for kernels in kernel_identities()):
        return True
    return parent_rerun(record)


def parent_rerun(record: dict[str, Any]) -> bool:
    """True when the run this record's run started from (or one further up its chain) has been run again: its
    record here names other weights than those this run was started from."""
    from .record import RecordError, record_config
    from .shard import parent_of
    from .store import find_record

    started_from = (record.get("init") or {}).get("weights_sha256")
    parent_config = parent_of(record_config(record))
    if not started_from or parent_config is None:
        return False
    try:
        parent = find_record(parent_config)
    except RecordError:
        return True  # a parent record that is no longer valid vouches for nothing
    if parent is None:  # not on this machine: nothing to compare with
        return False
    return parent.get("weights_sha256") != started_from or parent_rerun(parent)
