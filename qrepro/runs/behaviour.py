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
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_path
from ..cache import cache_dir
from ..methods import get_method
from ..config import PTQConfig, TrainConfig, config_from_dict
from ..data import DeviceLoader, ImageData
from ..data.dataset import channel_stats
from ..threads import torch_threads
from ..train import evaluate, fit
from .build import DataShape, prepared_model, trainable
from .provenance import LOADED_SOURCE, files_changed_since_import

SIGNIFICANT_DIGITS = 9
TRAIN_IMAGES, TEST_IMAGES, BATCH = 8, 4, 4


def synthetic_data(shape: DataShape) -> ImageData:
    """Fixed random uint8 images of ``shape`` (at most 16 x 16: the code path, not the image, is what counts)."""
    size = min(shape.image_size, 16)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (TRAIN_IMAGES + TEST_IMAGES, shape.in_channels, size, size), generator=g,
                           dtype=torch.uint8)
    labels = torch.arange(TRAIN_IMAGES + TEST_IMAGES) % shape.num_classes
    mean, std = channel_stats(images[:TRAIN_IMAGES])
    return ImageData("synthetic", images[:TRAIN_IMAGES], labels[:TRAIN_IMAGES], images[TRAIN_IMAGES:],
                     labels[TRAIN_IMAGES:], tuple(str(c) for c in range(shape.num_classes)), mean, std, 1, True)


@contextmanager
def float64_one_thread() -> Iterator[None]:
    dtype, rng = torch.get_default_dtype(), torch.get_rng_state()
    torch.set_default_dtype(torch.float64)
    try:
        with torch_threads(1):
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
def _stored_fingerprint(config_json: str, shape: DataShape) -> str:
    """``_fingerprint`` read from the store when this source has computed it before, else computed and kept."""
    store = store_dir()
    if store is None:
        return _fingerprint(config_json, shape)
    key = hashlib.sha256(f"{config_json}|{dataclasses.astuple(shape)}".encode()).hexdigest()[:32]
    path = store / f"{key}.txt"
    kept = path.read_text().strip() if path.exists() else ""
    if re.fullmatch(r"[0-9a-f]{12}", kept):
        return kept
    fingerprint = _fingerprint(config_json, shape)
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
    text = ",".join(f"{v:.{SIGNIFICANT_DIGITS - 1}e}" for v in values)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def behaviour_fingerprint(config: TrainConfig | PTQConfig, shape: DataShape) -> str:
    """12 hex digits that change when the code this run uses computes something else (see the module)."""
    return _stored_fingerprint(json.dumps(config.to_dict(), sort_keys=True), shape)


def is_stale(record: dict[str, Any]) -> bool:
    """True when the code here computes something other than what made the record (its behaviour fingerprint)."""
    from .record import record_config

    code = record.get("code") or {}
    if "behaviour" not in code or "data_shape" not in record:
        return True
    return code["behaviour"] != behaviour_fingerprint(record_config(record), DataShape(**record["data_shape"]))
