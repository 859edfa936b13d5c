"""The one way qrepro writes a file: to a temporary file of its own beside the target, renamed into place.

A kill never leaves a half-written file under the target's name, two writers never share a temporary file, and a
failed write removes its temporary file.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def atomic_path(path: Path, mode: int = 0o644) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write to; on success it gets permissions ``mode`` and is renamed
    onto ``path``; on any error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_tensors(obj: Any, path: Path, mode: int = 0o644) -> None:
    """``torch.save(obj)`` to ``path``, atomically."""
    with atomic_path(path, mode) as tmp:
        torch.save(obj, tmp)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Strict JSON (a NaN or an infinity is an error, not written), readable by all, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False, allow_nan=False)
        f.write("\n")
