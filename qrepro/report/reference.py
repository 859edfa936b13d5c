"""The paper's published numbers of a chapter as a table (the rows live with the chapter: ``Chapter.reference``)."""
from __future__ import annotations

import pandas as pd

from ..chapters import CHAPTERS, get_chapter


def paper_table(chapter: str) -> pd.DataFrame:
    """All published rows of a chapter's paper (and of the seed project and official code, labelled), with the
    citation of each row's source; columns: source, arch, data, method, bits, top1, ..., citation."""
    reference = get_chapter(chapter).reference
    if reference is None:
        with_reference = [name for name, c in CHAPTERS.items() if c.reference is not None]
        raise ValueError(f"no reference table for {chapter!r}; valid: {', '.join(with_reference)}")
    frame = pd.DataFrame(list(reference.rows))
    frame["citation"] = frame["source"].map(reference.sources)
    return frame
