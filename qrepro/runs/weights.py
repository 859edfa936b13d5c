"""A run's final weights: their digest (kept in its record) and the checked load of a parent's weights."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.preact_resnet import initialize_precisions
from .record import RecordError


@dataclass(frozen=True)
class Parent:
    """The run a child starts from: its record and where its final weights lie."""

    record: dict[str, Any]
    weights: Path


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 (16 hex digits) of a state dict: every entry's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A weights file saved by a run, as tensors only; a clear error naming the file when it is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # a damaged or foreign file: torch raises many kinds; never unpickle it unsafely
        raise RecordError(f"{path} is not a weights file written by a run ({type(err).__name__}); move "
                          f"{path.parent} away and run it again") from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RecordError(f"{path} is not a state dict of tensors; move {path.parent} away and run it again")
    return state


def load_parent(model: nn.Module, parent: Parent, *, exact: bool = False) -> dict[str, Any]:
    """Load the parent's final weights into ``model`` after checking them against the digest in its record.

    Every weight of the parent must find its place; the only keys left to the model's initialization are those
    its own method or architecture adds (none when ``exact``), listed in the returned report for the record. A
    switchable BatchNorm at a bit-width the parent lacks starts from the parent's at its highest bit-width, and the
    parent's at bit-widths the model lacks are not loaded (``models.preact_resnet.initialize_precisions``; the
    report lists both)."""
    run_id = parent.record["run_id"]
    state = load_weights(parent.weights)
    digest, expected = state_digest(state), parent.record.get("weights_sha256")
    if digest != expected:
        raise RecordError(f"{parent.weights} does not hold the weights that the record of {run_id} names (sha256 "
                          f"{digest}, recorded {expected}): they belong to another run or were changed. Run "
                          f"{run_id} again here (move {parent.weights.parent} away) to rebuild them")
    state, copied, left_out = initialize_precisions(state, model)
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys or (exact and (result.missing_keys or copied)):
        raise RecordError(f"the weights of {run_id} do not fit this model: unexpected {result.unexpected_keys}, "
                          f"missing {result.missing_keys}")
    report = {"from": run_id, "weights_sha256": digest, "added_keys": result.missing_keys}
    if copied or left_out:  # switchable BatchNorms at bit-widths the parent lacks start from its highest one's
        report |= {"copied_keys": copied, "left_out_keys": left_out}
    return report
