"""Where qrepro keeps what it can compute again: $XDG_CACHE_HOME/qrepro (default ~/.cache/qrepro)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qrepro"
