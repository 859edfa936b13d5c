"""The one place that sets torch's CPU thread count for a piece of work, and restores it afterwards."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the enclosed work with ``count`` torch intra-op threads when it runs on the CPU; ``None`` or another
    device leaves the count alone. The previous count is restored on exit, also after an exception."""
    previous = torch.get_num_threads()
    if count is not None and torch.device(device).type == "cpu":
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
