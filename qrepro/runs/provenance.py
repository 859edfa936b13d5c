"""Where a number came from: code version (git commit and a hash of the package source), device, time."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def package_hash() -> str:
    """sha256 (12 hex digits) over the path and bytes of every source file (.py, .cpp, .h) of the qrepro package, as the
    files are now."""
    digest = hashlib.sha256()
    for path in sorted(path for suffix in ("py", "cpp", "h") for path in PACKAGE_DIR.rglob(f"*.{suffix}")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def files_changed_since_import() -> bool:
    """Whether the package's files are no longer the source this process loaded (edited, or another commit checked
    out, while it ran)."""
    return package_hash() != LOADED_SOURCE


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
    """Device, torch, date, and the commit of the code this process runs: HEAD now, unless the package's files
    changed since this process imported them; then HEAD and its dirty flag as they were at import."""
    commit, dirty = LOADED_COMMIT if files_changed_since_import() else git_commit()
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "commit": commit,
        "dirty": dirty,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# the package source and commit this process computes with, taken at import: a file edited later changes the files,
# not the code this process has loaded
LOADED_SOURCE = package_hash()
LOADED_COMMIT = git_commit()
