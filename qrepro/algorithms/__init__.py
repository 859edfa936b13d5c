"""Paper-level procedures, one module per paper, and the registries the runner dispatches on."""
from collections.abc import Callable

from . import apot, gpfq, inq, pdqat, scoreboard, sq, sq_chapter
from .base import Method, PTQMethod

METHODS: dict[str, Method] = {m.name: m for m in (Method(), apot.APoT(), sq.BWNMethod(), sq.TWNMethod(),
                                                    sq.TTQMethod(), inq.INQMethod(), inq.ELQMethod(),
                                                    pdqat.DoReFa(), pdqat.PDQAT())}
PTQ_METHODS: dict[str, PTQMethod] = {m.name: m for m in (gpfq.GPFQ(), gpfq.MSQ())}
SWEEPS: dict[str, Callable[..., list]] = {"apot": apot.sweep, "sq": sq_chapter.sweep, "pdqat": pdqat.sweep,
                                          "gpfq": gpfq.sweep, "scoreboard": scoreboard.sweep}


def get_method(name: str) -> Method | PTQMethod:
    """The registered training or post-training method called ``name``."""
    found = METHODS.get(name) or PTQ_METHODS.get(name)
    if found is None:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join([*METHODS, *PTQ_METHODS])}")
    return found


def get_sweep(chapter: str) -> Callable[..., list]:
    if chapter not in SWEEPS:
        raise ValueError(f"unknown chapter {chapter!r}; valid: {', '.join(SWEEPS)}")
    return SWEEPS[chapter]


__all__ = ["METHODS", "PTQ_METHODS", "SWEEPS", "Method", "PTQMethod", "get_method", "get_sweep"]
