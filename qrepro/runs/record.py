"""Run records: ``runs/<chapter>/<run-id>/record.json``, written atomically, validated on load.

A record holds the config, the data it ran on (name and fingerprint of the pixels and labels), per-epoch
metrics, the final top-1/top-5 (of the last epoch, never the best one), the best test top-1 (a labelled second
number), wall time, device, torch version, git commit, the code's behaviour fingerprint and source hashes, the
digest of its final weights and of its parent's, date, and a method-specific summary (e.g. learned clipping
values). Records are strict JSON (no NaN or Infinity). A record written since content digests exist carries
``digest``, the hash of the rest of its content: an edit of any field after the run wrote it makes it invalid.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..config import PTQConfig, TrainConfig, config_from_dict

RECORD_SCHEMA = "qrepro.record/2"
RECORD_FILE = "record.json"


class RecordError(RuntimeError):
    """A record on disk is unreadable, or belongs to another config; it is never overwritten."""


def _reject_non_finite(token: str) -> None:
    raise json.JSONDecodeError(f"{token} is not JSON (a record is strict JSON)", token, 0)


def read_record(path: Path, expected: TrainConfig | PTQConfig | None = None) -> dict[str, Any]:
    """Load and validate a record; with ``expected``, check that it was written for that config."""
    try:
        record = json.loads(path.read_text(), parse_constant=_reject_non_finite)
    except (OSError, json.JSONDecodeError) as err:
        raise RecordError(f"{path} is not a readable record ({err}); "
                          "move it away to re-run, it is never overwritten") from err
    if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
        raise RecordError(f"{path} is not a qrepro record (schema {RECORD_SCHEMA!r} expected); move it away to re-run")
    try:
        stored = config_from_dict(record["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise RecordError(f"{path} has an invalid config ({err}); move it away to re-run") from err
    if stored.run_id != record.get("run_id") or stored.run_id != path.parent.name:
        raise RecordError(f"{path}: its config hashes to {stored.run_id}, not to its folder name; "
                          "a foreign or edited record")
    if expected is not None and stored.hash != expected.hash:
        raise RecordError(f"{path} was written for another config than {expected.run_id}; move it away to re-run")
    problem = invalid_values(record, stored, path.parent.parent.name)
    if problem:
        raise RecordError(f"{path} is invalid: {problem}; an edited or damaged record is never shown as a number "
                          "(restore it from git, or move it away to re-run)")
    return record


ACCURACIES = ("top1", "top5", "best_test_top1", "val_selected_top1", "original_top1", "original_top5")


def invalid_values(record: dict[str, Any], config: TrainConfig | PTQConfig, folder: str) -> str | None:
    """Why the numbers a record shows cannot be what its run measured, or None: its chapter folder, the types and
    ranges of its accuracies (percent) and times, for a training run top-1/top-5 equal to its last epoch's
    evaluation and no more epochs than its schedule, and its content digest where it has one."""
    if folder != config.chapter:
        return f"it lies under the chapter folder {folder!r}, but its config is chapter {config.chapter!r}"
    if "top1" not in record:
        return "it has no top1"
    for name in ACCURACIES:
        value = record.get(name)
        if value is None and name != "top1":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            return f"{name} = {value!r} is not an accuracy in percent (a number in [0, 100])"
    wall = record.get("wall_time_s")
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or wall < 0:
        return f"wall_time_s = {wall!r} is not a time in seconds >= 0"
    if isinstance(config, TrainConfig):
        epochs = record.get("epochs")
        if not isinstance(epochs, list) or not epochs or not all(isinstance(e, dict) for e in epochs):
            return "a training record without its epochs"
        if len(epochs) > config.schedule.epochs:
            return f"{len(epochs)} epochs recorded for a schedule of {config.schedule.epochs}"
        last = epochs[-1]
        for name in ("top1", "top5"):
            if record.get(name) != last.get(f"test_{name}"):
                return (f"{name} = {record.get(name)!r} is not the last epoch's evaluation "
                        f"({last.get(f'test_{name}')!r})")
    if "digest" in record and record["digest"] != content_digest(record):
        return f"its content does not match its digest {record['digest']!r} (a field was edited after the run)"
    return None


def content_digest(record: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of the record's canonical JSON (sorted keys), its own ``digest`` left out."""
    body = {key: value for key, value in record.items() if key != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()[:16]


def record_config(record: dict[str, Any]) -> TrainConfig | PTQConfig:
    return config_from_dict(record["config"])
