"""Data-parallel training under torchrun: DistributedDataParallel, one process per GPU (NCCL) or CPU (gloo).

    torchrun --nproc_per_node 4 -m qrepro run apot -p profile quick

Every process runs the same sweep; each takes its shard of every batch (DeviceLoader(shard=...)), gradients
are averaged by DDP, and only the main process writes checkpoints, weights and records. Without torchrun
(no WORLD_SIZE in the environment) nothing here does anything.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_environment(device: torch.device) -> torch.device:
    """Join the torchrun process group once (NCCL on CUDA, gloo on CPU); return this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized() and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def rank_and_world() -> tuple[int, int]:
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Sum each tensor over all processes (identity when not distributed)."""
    if not dist.is_initialized():
        return list(values)
    stacked = torch.stack([v.detach().float().reshape(()) for v in values])
    dist.all_reduce(stacked)
    return list(stacked)
