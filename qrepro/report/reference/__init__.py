"""Published numbers, one module per paper, each row with its source: the only place they live.

Reproduced numbers never come from here; they come from run records. ``paper_table(chapter)`` returns a
DataFrame with columns: source, arch, data, method, bits, top1 (accuracy %, or NaN), plus optional
std, seeds, selection (how the number was chosen, e.g. "best test epoch") and note.
"""
from __future__ import annotations

import pandas as pd

from . import apot, gpfq, pdqat, sq

TABLES = {"apot": apot.ROWS, "sq": sq.ROWS, "pdqat": pdqat.ROWS, "gpfq": gpfq.ROWS}
SOURCES = {"apot": apot.SOURCES, "sq": sq.SOURCES, "pdqat": pdqat.SOURCES, "gpfq": gpfq.SOURCES}


def paper_table(chapter: str) -> pd.DataFrame:
    """All published rows of a chapter's paper (and of the seed project and official code, labelled)."""
    if chapter not in TABLES:
        raise ValueError(f"no reference table for {chapter!r}; valid: {', '.join(TABLES)}")
    frame = pd.DataFrame(TABLES[chapter])
    frame["citation"] = frame["source"].map(SOURCES[chapter])
    return frame


__all__ = ["SOURCES", "TABLES", "paper_table"]
