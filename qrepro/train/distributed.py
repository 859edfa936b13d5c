"""Data-parallel training under torchrun: DistributedDataParallel, one process per GPU (NCCL) or CPU (gloo).

    torchrun --nproc_per_node 4 -m qrepro run apot -p profile quick

Every process runs the same sweep; each takes its shard of every batch (DeviceLoader(shard=...)), gradients
are averaged by DDP, and only the main process writes checkpoints, weights and records. Without torchrun
(no WORLD_SIZE in the environment) nothing here does anything.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

_on_its_own = False  # inside ``single_process``


@contextmanager
def single_process() -> Iterator[None]:
    """Within: this process trains on its own, as without torchrun, whatever process group it belongs to. For work
    every process does for itself (the behaviour fingerprints), which must not wait on the others."""
    global _on_its_own
    before, _on_its_own = _on_its_own, True
    try:
        yield
    finally:
        _on_its_own = before


def _grouped() -> bool:
    return dist.is_initialized() and not _on_its_own


def init_from_environment(device: torch.device) -> torch.device:
    """Join the torchrun process group once (NCCL on CUDA, gloo on CPU); return this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized() and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def rank_and_world() -> tuple[int, int]:
    if _grouped():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def barrier() -> None:
    if _grouped():
        dist.barrier()


def all_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Sum each tensor over all processes (identity when not distributed)."""
    if not _grouped():
        return list(values)
    stacked = torch.stack([v.detach().float().reshape(()) for v in values])
    dist.all_reduce(stacked)
    return list(stacked)


def all_reduce_(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes, in place (unchanged when not distributed)."""
    if _grouped():
        dist.all_reduce(tensor)
    return tensor
