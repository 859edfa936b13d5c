"""Where a number came from: code version (git commit and a hash of the package source), device, time."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def source_hash(refresh: bool = False) -> str:
    """sha256 (12 hex digits) over the path and bytes of every .py file of the qrepro package (read once per
    process; ``refresh`` reads the files again, e.g. when a long run ends)."""
    if refresh:
        _source_hash.cache_clear()
    return _source_hash()


@lru_cache(maxsize=1)
def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_commit() -> tuple[str | None, bool]:
    """(HEAD commit of the repository holding the package, whether its tracked files differ from HEAD).

    Where the package is not in a git checkout (a copy of the tree sent to another machine), $QREPRO_COMMIT names
    the commit the copy was made from, and dirty is unknown there (False)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return os.environ.get("QREPRO_COMMIT") or None, False
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", str(PACKAGE_DIR))) if commit else False
    return commit, dirty


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else the platform's machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_model()}, {torch.get_num_threads()} threads"


def provenance(device: torch.device) -> dict[str, object]:
    commit, dirty = git_commit()
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "commit": commit,
        "dirty": dirty,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
