"""Why ``torch.compile`` does not speed the quantizers up on this CPU: what a saved or read mask costs, eager
against compiled (inductor).

A fused quantizer is one kernel per direction, so compiling is the obvious way to bring an element-wise quantizer
within 2x of a ReLU (see ``quantizer_cost``). Every clipping estimator keeps a mask for its backward (ReLU's
autograd keeps ``x <= 0``, APoT's and DoReFa's keep where the input lies inside the clipping range), so a compiled
training graph writes a mask in the forward and reads it in the backward. This benchmark times those two steps
alone, with the mask as ``bool`` (what autograd and inductor's partitioner choose) and as ``float32``, on the
activation tensor of ``quantizer_cost`` (128 x 16 x 32 x 32, one thread), and a whole ReLU forward + backward.
A compiled case much slower than its eager one, for bool masks only, points at inductor's bool-mask code on this
CPU, not at the fused arithmetic.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..threads import torch_threads
from .measure import time_steps
from .quantizer_cost import ACTIVATION_SHAPE


def _relu_forward_backward(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                           grad: torch.Tensor) -> Callable[[], None]:
    x = x.detach().requires_grad_(True)

    def step() -> None:
        fn(x).backward(grad)
        x.grad = None

    return step


def cases(x: torch.Tensor, grad: torch.Tensor) -> list[tuple[str, Callable, tuple]]:
    """(label, function, arguments): each timed as is and under torch.compile."""
    bool_mask, float_mask = x <= 0, (x <= 0).float()
    return [
        ("relu forward", torch.relu, (x,)),
        ("forward, keeping a bool mask: relu(x), x <= 0", lambda t: (torch.relu(t), t <= 0), (x,)),
        ("forward, keeping a float mask: relu(x), float(x <= 0)", lambda t: (torch.relu(t), (t <= 0).float()), (x,)),
        ("backward, reading a bool mask: where(m, 0, g)", lambda m, g: torch.where(m, 0.0, g), (bool_mask, grad)),
        ("backward, reading a float mask: g * m", lambda m, g: g * m, (float_mask, grad)),
    ]


def _ms(step: Callable[[], object], device: torch.device) -> float:
    return round(time_steps(step, device, warmup=5, steps=21) * 1000, 3)


def _row(label: str, eager: Callable[[], object], compiled: Callable[[], object], device: torch.device) -> dict:
    eager_ms, compiled_ms = _ms(eager, device), _ms(compiled, device)
    return {"case": label, "eager_ms": eager_ms, "compiled_ms": compiled_ms,
            "compiled_vs_eager": round(compiled_ms / eager_ms, 2)}


def run(device: torch.device) -> list[dict]:
    with torch_threads(1, device):
        torch.manual_seed(0)
        x = torch.randn(ACTIVATION_SHAPE, device=device)
        grad = torch.randn_like(x)
        rows = [_row(label, partial(fn, *args), partial(torch.compile(fn), *args), device)
                for label, fn, args in cases(x, grad)]
        rows.append(_row("relu forward + backward (autograd keeps a bool mask)",
                         _relu_forward_backward(torch.relu, x, grad),
                         _relu_forward_backward(torch.compile(torch.relu), x, grad), device))
    return rows
