"""How a table reaches a page: in a box of its own that scrolls sideways when the table is wider than the text
column, with a link beside it that downloads the table's data as CSV (so a reader can redo the arithmetic).

``show_tables(page)``, called once at the top of a chapter, makes every DataFrame and Styler the page displays
render this way. The CSV holds the table's data, not its formatting: numbers at full precision, run links as
the run ids. The file is embedded in the page (a ``data:`` link), so it works in any copy of the built book.
"""
from __future__ import annotations

import base64
import html
import itertools
import re

import pandas as pd
from pandas.io.formats.style import Styler

from .tables import RUN_LINK

TAG = re.compile(r"<[^>]+>")


def plain_text(value: str) -> str:
    """A cell's HTML as text: a run link as its run id, other markup dropped, entities decoded."""
    return html.unescape(TAG.sub("", RUN_LINK.sub(r"\1", value)))


def csv_text(table: pd.DataFrame | Styler) -> str:
    """The table's data as CSV: a Styler's underlying frame, its HTML cells as ``plain_text``."""
    frame = table.data if isinstance(table, Styler) else table
    frame = frame.map(lambda v: plain_text(v) if isinstance(v, str) else v)
    plain_index = isinstance(frame.index, pd.RangeIndex)
    return frame.to_csv(index=not plain_index)


def table_html(table: pd.DataFrame | Styler, filename: str) -> str:
    """The table's HTML in a sideways-scrolling box, followed by a link that downloads ``filename`` (its CSV)."""
    body = table.to_html() if isinstance(table, Styler) else table._repr_html_()
    data = base64.b64encode(csv_text(table).encode()).decode()
    link = (f'<a class="qrepro-csv" download="{html.escape(filename)}" '
            f'href="data:text/csv;charset=utf-8;base64,{data}">⤓ {html.escape(filename)}</a>')
    return f'<div class="qrepro-table" style="overflow-x: auto; max-width: 100%;">{body}</div>\n<p>{link}</p>'


def show_tables(page: str) -> None:
    """Render every DataFrame and Styler that this IPython kernel displays with ``table_html``; the n-th table of
    the page downloads as ``{page}-table-{n}.csv``. Outside IPython, does nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    count = itertools.count(1)
    formatter = shell.display_formatter.formatters["text/html"]
    for kind in (pd.DataFrame, Styler):
        formatter.for_type(kind, lambda table: table_html(table, f"{page}-table-{next(count)}.csv"))
