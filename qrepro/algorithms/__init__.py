"""Paper-level procedures, one module per paper, and the registries the runner dispatches on.

A chapter's runs come in one or two phases. ``SWEEPS[chapter](**parameters)`` lists the first phase's configs;
``FOLLOWUPS[chapter](records, **parameters)``, where a chapter has one, lists the second phase's from the records
of the first (e.g. PD-QAT's mixed-precision retraining, ranked by the first phase's dual variables); called with
no records, it only checks its parameters and returns []. Both take the chapter's notebook parameters (scalars
and strings, each with the notebook's default); ``chapter_parameters`` is the one list of the names it accepts.
"""
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from . import apot, dorefa, gpfq, inq, pdqat, scoreboard, sq, sq_chapter
from .base import Method, PTQMethod

METHODS: dict[str, Method] = {m.name: m for m in (Method(), apot.APoT(), sq.BWNMethod(), sq.TWNMethod(),
                                                    sq.TTQMethod(), inq.INQMethod(), inq.ELQMethod(),
                                                    dorefa.DoReFa(), pdqat.PDQAT())}
PTQ_METHODS: dict[str, PTQMethod] = {m.name: m for m in (gpfq.GPFQ(), gpfq.MSQ())}
SWEEPS: dict[str, Callable[..., list]] = {"apot": apot.sweep, "sq": sq_chapter.sweep, "pdqat": pdqat.sweep,
                                          "gpfq": gpfq.sweep, "scoreboard": scoreboard.sweep}
FOLLOWUPS: dict[str, Callable[..., list]] = {"pdqat": pdqat.mixed_sweep}


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


def phases(chapter: str) -> list[Callable[..., list]]:
    """The chapter's sweep, then its follow-up phase if it has one."""
    return [get_sweep(chapter), *([FOLLOWUPS[chapter]] if chapter in FOLLOWUPS else [])]


def _named(phase: Callable[..., list]) -> dict[str, Any]:
    """A phase's chapter parameters: its keyword parameters with defaults (not the records, not ``**``)."""
    return {name: p.default for name, p in inspect.signature(phase).parameters.items()
            if p.default is not p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def chapter_parameters(chapter: str) -> dict[str, Any]:
    """Every parameter the chapter's phases take, with its default: the sweep's, then the follow-up's others."""
    accepted: dict[str, Any] = {}
    for phase in phases(chapter):
        accepted |= {name: default for name, default in _named(phase).items() if name not in accepted}
    return accepted


RUNTIME_PARAMETERS = {"data_root": None, "device": "auto"}  # where and how to run; not part of any config


def check_parameter_names(chapter: str, names: Iterable[str]) -> None:
    """A chapter takes only its own parameters: a clear error naming the valid ones for any other name (e.g. a
    misspelt ``-p bits 2`` given to papermill or to the CLI)."""
    accepted = [*chapter_parameters(chapter), *RUNTIME_PARAMETERS]
    unknown = sorted(set(names) - set(accepted))
    if unknown:
        raise ValueError(f"chapter {chapter} has no parameter(s) {unknown}; valid: {', '.join(accepted)}")


def check_notebook_parameters(chapter: str, namespace: dict[str, Any]) -> None:
    """``check_parameter_names`` for a notebook, called right after its parameters cell with ``globals()``: the
    scalars defined there are the parameters cell's and those papermill injected, which must be known ones."""
    scalars = [name for name, value in namespace.items()
               if not name.startswith("_") and isinstance(value, (str, int, float, bool))]
    check_parameter_names(chapter, scalars)


def phase_arguments(phase: Callable[..., list], parameters: dict[str, Any]) -> dict[str, Any]:
    """The chapter parameters to pass ``phase``: all of them if it takes ``**parameters``, else those it names."""
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(phase).parameters.values()):
        return dict(parameters)
    named = _named(phase)
    return {name: value for name, value in parameters.items() if name in named}


__all__ = ["FOLLOWUPS", "METHODS", "PTQ_METHODS", "RUNTIME_PARAMETERS", "SWEEPS", "Method", "PTQMethod",
           "chapter_parameters", "check_notebook_parameters", "check_parameter_names", "get_method", "get_sweep",
           "phase_arguments", "phases"]
