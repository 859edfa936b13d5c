"""Per-epoch training checkpoints: everything needed to resume a run bit-identically after a kill."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..atomic import save_tensors


class CheckpointError(RuntimeError):
    """A checkpoint on disk cannot be resumed from; the message names the file and the fix."""


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically (``qrepro.atomic``), readable by its owner only."""
    save_tensors(state, path, mode=0o600)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` on the CPU (the loop moves each part to its device: RNG states must stay CPU
    byte tensors), or None when there is none; a clear error when the file is not a checkpoint."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a damaged file; all mean the same here
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}); delete it to start "
                              "this run again from its first epoch") from err
    if not isinstance(state, dict) or "history" not in state:
        raise CheckpointError(f"{path} is not a qrepro training checkpoint; delete it to start this run again")
    return state
