"""The one way qrepro writes a file: to a temporary file of its own beside the target, renamed into place.

A kill never leaves a half-written file under the target's name, two writers never share a temporary file, and a
failed write removes its temporary file and names the file it was writing, and the cause when the disk is full
(torch's own message for that names neither).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
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


FULL_BELOW = 64 * 2**20  # bytes free under which a failed write is put down to a full disk


@contextmanager
def named_write_errors(path: Path) -> Iterator[None]:
    """Turn a failed write of ``path`` (an OSError, or the RuntimeError torch.save raises) into an OSError that
    names the file and, when the disk is full, says so."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            free = None
        if getattr(err, "errno", None) == errno.ENOSPC or (free is not None and free < FULL_BELOW):
            raise OSError(errno.ENOSPC, f"no space left to write {path} ({free} bytes free on its disk): free "
                          "some and run the same command again; a run resumes from its last checkpoint") from err
        if isinstance(err, OSError):
            raise
        raise OSError(f"could not write {path}: {err}") from err


def save_tensors(obj: Any, path: Path, mode: int = 0o644) -> None:
    """``torch.save(obj)`` to ``path``, atomically."""
    with named_write_errors(path), atomic_path(path, mode) as tmp:
        torch.save(obj, tmp)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Strict JSON (a NaN or an infinity is an error, not written), readable by all, atomically."""
    with named_write_errors(path), atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False, allow_nan=False)
        f.write("\n")
