"""Published numbers, one module per paper, each row with its source: the only place they live.

Reproduced numbers never come from here; they come from run records. Each chapter module hands its paper's rows
and sources to the report as ``Chapter.reference`` (``qrepro.report.paper_table``). Rows have the keys source,
arch, data, method, bits, top1 (accuracy %, or NaN), plus optional std, seeds, selection (how the number was chosen,
e.g. "best test epoch") and note.
"""
