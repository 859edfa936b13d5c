"""A chapter without Jupyter: its parameters dataclass is its notebook's parameters cell, and run_chapter runs its
plan and then its follow-up phase (PD-QAT's mixed-precision retraining), resumably and by shard."""
import ast
import shutil

import pytest
from conftest import REPO

from qrepro.chapters import CHAPTERS, RUNTIME, first_phase, get_chapter, split_parameters, unique_configs
from qrepro.cli import main
from qrepro.runs import run_chapter, run_chapters, run_dir
from qrepro.runs.shard import split

# smoke, one epoch, output constraint only: 4 first-phase runs (the Fig. 1 layer-wise run among them), then the
# baseline retrained with the 1 layer of largest and of smallest dual kept at 32 bits
SMALL = {"epochs": 1, "constraint": "output", "counts": "1", "rules": "largest,smallest"}


pytestmark = pytest.mark.usefixtures("one_thread")


def cell_parameters(chapter: str) -> dict[str, object]:
    """Names and defaults of the chapter notebook's parameters cell."""
    text = (REPO / "book" / f"{chapter}.py").read_text()
    cell = text.split('tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell).body}


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_the_parameters_dataclass_is_the_notebooks_parameters_cell(chapter):
    notebook = cell_parameters(chapter)
    fields = get_chapter(chapter).defaults()
    assert set(notebook) == set(fields) | set(RUNTIME)
    assert {name: notebook[name] for name in fields} == fields
    assert {name: notebook[name] for name in RUNTIME} == RUNTIME


def test_pdqat_parameters_are_those_of_both_phases_and_checked_before_anything_runs(capsys, monkeypatch):
    assert {"counts", "rules"} <= set(get_chapter("pdqat").defaults())
    monkeypatch.setattr("qrepro.runs.store.execute_train", fail_if_trained)
    assert main(["run", "pdqat", "-p", "colour", "red"]) == 2
    err = capsys.readouterr().err
    assert "valid: bit, constraint," in err and "arch, profile, data, epochs, seeds, data_root, device" in err
    assert main(["run", "pdqat", "-p", "counts", "2,21"]) == 2
    assert "counts" in capsys.readouterr().err  # 20 quantizable layers: refused before the first phase ran
    assert main(["run", "pdqat", "-p", "rules", "median"]) == 2
    assert "valid: largest, smallest, random" in capsys.readouterr().err


def fail_if_trained(*args, **kwargs):
    raise AssertionError("a run was trained")


def small(**more: object):
    return split_parameters("pdqat", {**SMALL, **more})[0]


def test_run_chapter_runs_both_phases_once(runs_root, monkeypatch, capsys):
    shown = run_chapter(small(), progress=False)
    records = shown.records
    first = first_phase("pdqat", epochs=1, constraint="output")
    second = unique_configs(shown.followup)
    ids = [c.run_id for c in first + second]
    assert [r["run_id"] for r in records] == list(dict.fromkeys(ids)) and len(first) == 4 and second
    assert all(c.method == "dorefa" and len(c.options["high_precision_layers"]) == 1 for c in second)

    monkeypatch.setattr("qrepro.runs.store.execute_train", fail_if_trained)  # from here on, nothing may train
    assert run_chapter(small(), progress=False).records == records
    cli = ["run", "pdqat", "--no-progress", *[a for name, value in SMALL.items() for a in ("-p", name, str(value))]]
    assert main(cli) == 0 and "error" not in capsys.readouterr().err  # the CLI takes counts and rules too
    shards = [run_chapter(small(), shard=f"{k}/2").records for k in range(2)]
    assert sorted(r["run_id"] for shard in shards for r in shard) == sorted(set(ids))  # each run in one shard

    gone = first[0]  # a first-phase record of one shard is missing: the other shard cannot plan the follow-up
    shutil.move(run_dir(gone), runs_root / "elsewhere")
    other = next(k for k in range(2) if gone not in split(first, k, 2))
    capsys.readouterr()
    assert [r["run_id"] for r in run_chapter(small(), shard=f"{other}/2").records] == [
        c.run_id for c in split(first, other, 2)]
    assert "1 of 4 are not recorded yet" in capsys.readouterr().err


@pytest.mark.slow
def test_workers_run_both_phases_and_make_the_records_one_process_makes(tmp_path, monkeypatch):
    monkeypatch.setenv("QREPRO_RUNS", str(tmp_path / "one"))
    one = run_chapter(small(), progress=False)
    monkeypatch.setenv("QREPRO_RUNS", str(tmp_path / "two"))  # the workers see it: they start after this
    [two] = run_chapters([small()], progress=False, workers=2)
    assert two.followup == one.followup and two.followup
    assert [(r["run_id"], r["top1"]) for r in two.records] == [(r["run_id"], r["top1"]) for r in one.records]
