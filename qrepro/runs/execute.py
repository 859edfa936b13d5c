"""Carry out one run: build data, model and method from a config, train or quantize, return the record."""
from __future__ import annotations

import dataclasses
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .. import data as datasets
from ..methods import get_method
from ..methods.base import Method, PTQMethod
from ..config import PTQConfig, TrainConfig
from ..data import DeviceLoader
from ..profiles import channels_last_for, precision_for
from ..train import evaluate, fit
from ..train.distributed import rank_and_world
from .behaviour import behaviour_fingerprint, lifecycle_fingerprint
from .build import DataShape, prepared_model, trainable
from .provenance import LOADED_SOURCE, provenance
from .record import RECORD_SCHEMA
from .weights import Parent, load_parent

WEIGHTS_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"


@lru_cache(maxsize=4)
def load_data(name: str, root: str | None) -> datasets.ImageData:
    """Data sets are loaded once per process and shared by the runs of a sweep."""
    return datasets.load(name, root)


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" is CUDA when available, else CPU; asking for an absent CUDA device is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device; use auto, cpu or cuda[:N]") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device here; use device='cpu'")
    return resolved


def code_version(config: TrainConfig | PTQConfig, data: datasets.ImageData) -> dict[str, str]:
    """The version of the code a run starts with: its behaviour and (training runs) lifecycle fingerprints (what
    decides whether the record stays current) and the hash of the package source (provenance)."""
    shape = DataShape.of(data)
    lifecycle = {"lifecycle": lifecycle_fingerprint(config, shape)} if isinstance(config, TrainConfig) else {}
    return {"behaviour": behaviour_fingerprint(config, shape), **lifecycle, "source_hash": LOADED_SOURCE}


def data_facts(data: datasets.ImageData) -> dict[str, Any]:
    """What a record says of its data: the name, the fingerprint of the pixels and labels, the shape."""
    return {"data_set": data.name, "data_fingerprint": data.fingerprint,
            "data_shape": dataclasses.asdict(DataShape.of(data))}


def finished_code(start: dict[str, str], sources: list[str]) -> dict[str, Any]:
    """A record's code facts: the version it started with, and every package source that trained or finished it
    (more than one when the run was resumed by a process that loaded other source computing the same)."""
    return {**start, "sources": list(dict.fromkeys([*sources, LOADED_SOURCE]))}


def memory_format(history: list[dict[str, Any]]) -> str:
    """The memory format every epoch trained in ("contiguous" for epochs recorded before epochs named it), or
    "mixed"."""
    formats = {h.get("memory_format", "contiguous") for h in history}
    return formats.pop() if len(formats) == 1 else "mixed"


def training_precision(history: list[dict[str, Any]]) -> str:
    """The precision every epoch trained in ("bf16" or "fp32"), or "mixed" when a resumed run changed it."""
    precisions = {h.get("amp", "fp32") for h in history}
    return precisions.pop() if len(precisions) == 1 else "mixed"


def execute_train(config: TrainConfig, run_dir: Path, *, parent: Parent | None, data_root: str | None,
                  device: torch.device, progress: bool, compile: bool = False
                  ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Train ``config`` (resuming from ``run_dir``'s checkpoint if one exists); return (record, weights).

    ``parent``: the run of ``config.init``, whose weights are checked against its record's digest."""
    method = get_method(config.method)
    if not isinstance(method, Method):
        raise ValueError(f"{config.method} is a post-training method; use a PTQConfig")
    method.check(config)
    full = load_data(config.data, data_root)
    data, validation = method.split_data(full, config)
    version = code_version(config, full)
    torch.manual_seed(config.seed)
    model, objective, init_report = trainable(config, data, parent)
    history = fit(model, data, config.schedule, device=device, seed=config.seed, objective=objective,
                  checkpoint=run_dir / CHECKPOINT_FILE, progress=progress, compile=compile,
                  amp=precision_for(config.data, device.type) == "bf16",
                  channels_last=channels_last_for(config.data, device.type), description=config.run_id,
                  validation=validation, version=version)
    final = history[-1]
    best = max(history, key=lambda h: h["test_top1"])
    selected = max(history, key=lambda h: h["val_top1"]) if validation is not None else None
    record = {
        "schema": RECORD_SCHEMA,
        "run_id": config.run_id,
        "config": config.to_dict(),
        **data_facts(full),
        "top1": final["test_top1"],
        "top5": final["test_top5"],
        "best_test_top1": best["test_top1"],  # selected on the test set: a labelled second number only
        "best_epoch": best["epoch"],
        # test top-1 at the epoch of best validation top-1 (model selection on held-out training images)
        "val_selected_top1": selected["test_top1"] if selected else None,
        "val_selected_epoch": selected["epoch"] if selected else None,
        "wall_time_s": sum(h["seconds"] for h in history),
        "epoch_time_s": sum(h["seconds"] for h in history) / len(history),
        "amp": training_precision(history),  # evaluation is always float32
        "evaluated_in": "float32",
        # of training and evaluation; "mixed" when a resumed run changed it (each epoch names its own)
        "memory_format": memory_format(history),
        "processes": rank_and_world()[1],
        **provenance(device),
        "code": finished_code(version, [h["source_hash"] for h in history]),
        "init": init_report,
        "summary": method.summarize(model, config),
        "epochs": history,
    }
    return record, model.state_dict()


def execute_ptq(config: PTQConfig, *, parent: Parent, data_root: str | None, device: torch.device,
                progress: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Quantize the trained model of ``config.model`` (``parent``: that run) and evaluate it; return (record,
    weights)."""
    method = get_method(config.method)
    if not isinstance(method, PTQMethod):
        raise ValueError(f"{config.method} is a training method; use a TrainConfig")
    method.check(config)
    data = load_data(config.data, data_root)
    version = code_version(config, data)
    torch.manual_seed(config.seed)
    model = prepared_model(config.model, data)
    init_report = load_parent(model, parent, exact=True)
    model.to(device)
    test_loader = DeviceLoader(data, "test", config.batch_size, device=device)
    original = evaluate(model, test_loader, device)
    start = time.perf_counter()
    summary = method.quantize(model, data, config, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    quantized = evaluate(model, test_loader, device)
    record = {
        "schema": RECORD_SCHEMA,
        "run_id": config.run_id,
        "config": config.to_dict(),
        **data_facts(data),
        "top1": quantized["top1"],
        "top5": quantized["top5"],
        "original_top1": original["top1"],
        "original_top5": original["top5"],
        "wall_time_s": seconds,
        **provenance(device),
        "code": finished_code(version, [version["source_hash"]]),
        "init": init_report,
        "summary": summary,
    }
    return record, model.state_dict()
