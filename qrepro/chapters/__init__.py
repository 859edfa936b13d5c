"""The book's chapters, one module each (see ``base``), found by name; ``qrepro.runs.run_chapter`` runs one.

    params, runtime = chapters.notebook_parameters("apot", globals())  # a notebook, after its parameters cell
    shown = run_chapter(params, **runtime)                             # both phases; shown.records, shown.planned
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from .base import RUNTIME, Chapter, ChapterParams, Config, Planned, Run, unique, unique_configs


def _discover() -> dict[str, Chapter]:
    """Every module of this package that defines ``CHAPTER``, by chapter name."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        chapter = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CHAPTER", None)
        if isinstance(chapter, Chapter):
            found[chapter.name] = chapter
    return found


CHAPTERS: dict[str, Chapter] = _discover()


def get_chapter(name: str) -> Chapter:
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTERS)}")
    return CHAPTERS[name]


def chapter_of(params: ChapterParams) -> Chapter:
    return next(c for c in CHAPTERS.values() if type(params) is c.Params)


def split_parameters(name: str, values: Mapping[str, Any]) -> tuple[ChapterParams, dict[str, Any]]:
    """A chapter's parameters and the runtime ones (``data_root``, ``device``) from one mapping of names to values
    (the CLI's ``-p`` or a notebook's); an unknown name is a clear error that names the valid ones."""
    values = dict(values)
    runtime = {key: values.pop(key, default) for key, default in RUNTIME.items()}
    return get_chapter(name).params(**values), runtime


def notebook_parameters(name: str, namespace: Mapping[str, Any]) -> tuple[ChapterParams, dict[str, Any]]:
    """``split_parameters`` for a notebook, called right after its parameters cell with ``globals()``: the scalars
    defined there are the cell's and those papermill injected, which must all be known ones (a misspelt
    ``-p bits 2`` stops here)."""
    scalars = {key: value for key, value in namespace.items()
               if not key.startswith("_") and isinstance(value, (str, int, float, bool))}
    return split_parameters(name, scalars)


def first_phase(name: str, **values: Any) -> list[Config]:
    """The configs of chapter ``name``'s first phase for these parameters (the rest at their defaults), each once;
    ``get_or_run`` runs each one's parents first."""
    chapter = get_chapter(name)
    return unique_configs(chapter.plan(chapter.params(**values)))


__all__ = ["CHAPTERS", "RUNTIME", "Chapter", "ChapterParams", "Planned", "Run", "chapter_of",
           "first_phase", "get_chapter", "notebook_parameters", "split_parameters", "unique",
           "unique_configs"]
