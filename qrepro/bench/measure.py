"""Timing and peak-memory helpers shared by the benchmarks."""
from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (CUDA synchronized before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def time_steps(step: Callable[[], Any], device: torch.device, warmup: int = 3, steps: int = 10) -> float:
    """Median seconds per call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    times = sorted(timed(step, device) for _ in range(steps))
    return times[len(times) // 2]


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: Linux's VmHWM (the high-water mark of this process image only;
    ``ru_maxrss`` also keeps the peak of the parent it was forked from before exec), else ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _with_peak_memory(fn: Callable[..., dict], args: tuple) -> dict:
    result = fn(*args)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def isolated(fn: Callable[..., dict], *args: Any) -> dict:
    """Run ``fn(*args)`` in a fresh process (spawn) so its peak resident memory is its own; return its dict
    with ``peak_rss_mib`` added (an exception in the child is raised here). Only for CPU cases; CUDA cases
    report torch.cuda.max_memory_allocated."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_with_peak_memory, fn, args).result()
