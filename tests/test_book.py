"""Chapters: paired .py/.ipynb in sync, a parameters cell, and papermill parameters that change the result."""
from pathlib import Path

import jupytext
import papermill
import pytest
from conftest import REPO
from helpers import assert_run_links_resolve, run_chapter, table_output

from qrepro.report.tables import VERDICT
from qrepro.cli import main
from qrepro.runs import recorded

CHAPTERS = sorted((REPO / "book").glob("*.py"))


def cells(notebook) -> list[tuple[str, str, list]]:
    return [(c.cell_type, c.source.strip(), c.metadata.get("tags", [])) for c in notebook.cells]


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_py_and_ipynb_are_in_sync(py: Path):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{py} has no paired notebook: run make sync"
    assert cells(jupytext.read(py)) == cells(jupytext.read(ipynb)), f"{py.name} and {ipynb.name} differ: make sync"


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_one_parameters_cell(py: Path):
    tagged = [c for c in jupytext.read(py).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.stem)
def test_a_reader_sees_the_parameters_cell_and_no_other_code_unless_they_open_it(py: Path):
    code = [c for c in jupytext.read(py).cells if c.cell_type == "code"]
    for cell in code:
        tags = set(cell.metadata.get("tags", []))
        assert len(tags & {"parameters", "hide-input", "remove-input"}) == 1, f"{py.name}: {cell.source[:60]!r}"


@pytest.mark.parametrize("py", [p for p in CHAPTERS if p.stem != "scoreboard"], ids=lambda p: p.stem)
def test_the_page_runs_its_own_parameters_only_after_the_real_data_evidence(py: Path):
    text = py.read_text()
    fresh = text.index("# ## What a fresh build runs")
    assert text.index("# ## On CIFAR-10 images") < fresh < text.index("run_chapter(params")
    assert "\n# ## " not in text[fresh + 1:], "the page's own runs are subsections of that last section"


@pytest.mark.slow
def test_papermill_bit_parameter_runs_only_what_it_needs_and_shows_it(runs_root, tmp_path):
    two = run_chapter("apot", tmp_path, bit=2, profile="smoke", epochs=2)
    assert sorted(r["config"]["bits"] for r in recorded("apot")) == [2, 3, 4, 32]  # bit 2 and its parents
    rows = table_output(two, "report.show_accuracy(table)")
    assert sorted(int(r["bits"]) for r in rows) == [2, 3, 4, 32]
    assert all(r["data_set"] == "digits" and r["profile"] == "smoke" for r in rows)
    assert all(r[VERDICT] == "n/a: digits is not cifar10" for r in rows)
    assert assert_run_links_resolve(two) == {r["run_id"] for r in recorded("apot")}

    four = run_chapter("apot", tmp_path, bit=4, profile="smoke", epochs=2)
    rows = table_output(four, "report.show_accuracy(table)")
    assert sorted(int(r["bits"]) for r in rows) == [4, 32]  # the parameter changed what the chapter shows
    assert len(recorded("apot")) == 4  # and reused the records it already had


@pytest.mark.slow
def test_papermill_parameter_of_the_wrong_type_fails_clearly(runs_root, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match="parameter epochs must be a int"):
        run_chapter("apot", tmp_path, epochs="two")


@pytest.mark.slow
@pytest.mark.parametrize("chapter, typo", [("apot", "bits"), ("sq", "bit"), ("pdqat", "bits"), ("gpfq", "bit"),
                                           ("scoreboard", "profiles")])
def test_papermill_refuses_a_parameter_the_chapter_does_not_take_as_the_cli_does(runs_root, tmp_path, chapter, typo):
    with pytest.raises(papermill.PapermillExecutionError,
                       match=rf"chapter {chapter} has no parameter\(s\) \['{typo}'\]"):
        run_chapter(chapter, tmp_path, **{typo: 2})
    assert recorded(chapter) == []  # it stopped before running anything
    assert main(["run", chapter, "-p", typo, "2"]) == 2
