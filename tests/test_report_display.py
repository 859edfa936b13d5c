"""Tables on a page: their own scroll box and a CSV download of their data."""
import base64
import re

import pandas as pd

from qrepro.report import show_table
from qrepro.report.display import csv_text, table_html


def test_the_csv_holds_the_data_at_full_precision_with_links_reduced_to_text():
    frame = pd.DataFrame({"row": ["APoT & co"], "top1": [91.23456], "run_ids": [["lite-resnet20-apot-w2-abc"]]})
    csv = csv_text(show_table(frame, precision=1))
    assert csv.splitlines() == ["row,top1,runs", "APoT & co,91.23456,lite-resnet20-apot-w2-abc"]


def test_the_page_gets_a_scroll_box_and_a_download_of_exactly_that_csv():
    table = pd.DataFrame({"bits": [2, 4], "drop": [1.5, 0.25]}, index=pd.Index(["a", "b"], name="method"))
    page = table_html(table, "apot-table-1.csv")
    assert page.startswith('<div class="qrepro-table" style="overflow-x: auto;')
    link = re.search(r'download="apot-table-1.csv" href="data:text/csv;charset=utf-8;base64,([^"]+)"', page)
    assert base64.b64decode(link.group(1)).decode() == csv_text(table)
    assert csv_text(table).splitlines()[0] == "method,bits,drop"  # a named index is data, a plain one is not
