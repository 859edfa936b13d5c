"""python -m qrepro plan: a deadline, workers sharing the device, chains kept in one worker, records and parent
weights packed as they finish, a run cut at the deadline losing only itself, import, and a second call that
continues where the first stopped. On digits, on the CPU, with a deadline of seconds."""
import json
import tarfile

import pytest
import torch

from qrepro.chapters import first_phase
from qrepro.cli import main
from qrepro.plan import RECORDS_TAR, WEIGHTS_TAR, import_results, jobs, plan
from qrepro.runs import find_record, recorded, run_dir

QUICK = ("gpfq", {"sweeps": "none", "epochs": 1, "bits": 4})  # a 1-epoch model and its GPFQ and MSQ runs
LONG = ("apot", {"bit": "4", "epochs": 1000})  # far longer than any deadline here: it is cut


def test_jobs_keep_each_chain_together_in_priority_order_and_skip_what_is_recorded():
    todo = jobs([QUICK, LONG], "smoke", "")
    assert [len(job.configs) for job in todo] == [3, 2]  # FP + GPFQ + MSQ; FP -> 4-bit APoT
    assert [c.run_id for c in todo[1].configs] == [c.run_id for c in first_phase("apot", bit="4", epochs=1000)]
    assert {c.method for c in todo[0].configs} == {"fp", "gpfq", "msq"}


@pytest.mark.slow
def test_a_deadline_cuts_only_the_running_run_and_a_second_call_continues(runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "out"
    first = plan(out, minutes=1.25, profile="smoke", workers=2, priority=[QUICK, LONG], check=False)
    fp, *quantized = first_phase("gpfq", sweeps="none", epochs=1, bits=4)
    assert set(first["done"]) == {fp.run_id} | {c.run_id for c in quantized}
    assert first["cut"] == [first_phase("apot", bit="4", epochs=1000)[0].run_id]  # only the run in progress
    with tarfile.open(out / RECORDS_TAR) as tar:
        assert {m.name.split("/")[1] for m in tar.getmembers()} == set(first["done"])
    with tarfile.open(out / WEIGHTS_TAR) as tar:
        assert [m.name.split("/")[1] for m in tar.getmembers()] == [fp.run_id]  # the parent of later runs only

    here = tmp_path / "here"  # the developer's machine: nothing recorded yet
    added = import_results(out, here)
    assert sorted(added) == sorted([f"gpfq/{r}/record.json" for r in first["done"]] + [f"gpfq/{fp.run_id}/model.pt"])
    assert import_results(out, here) == []  # importing twice adds nothing
    monkeypatch.setenv("QREPRO_RUNS", str(here))
    assert len(recorded("gpfq")) == 3 and find_record(fp) is not None
    long_fp = first_phase("apot", bit="4", epochs=1000)[0]
    monkeypatch.setenv("QREPRO_RUNS", str(runs_root))
    assert [job.root for job in jobs([QUICK, LONG], "smoke", "")] == [long_fp.run_id]  # only the cut job is left
    checkpoint = run_dir(long_fp) / "checkpoint.pt"
    trained = len(torch.load(checkpoint, weights_only=True)["history"])
    second = plan(out, minutes=0.5, profile="smoke", workers=2, priority=[QUICK, LONG], check=False)
    assert second["done"] == [] and second["cut"] == [long_fp.run_id]  # the recorded runs are not repeated
    assert len(torch.load(checkpoint, weights_only=True)["history"]) > trained  # it went on from its checkpoint


@pytest.mark.slow
def test_the_cli_plans_and_imports(runs_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("qrepro.plan.PRIORITY", (QUICK,))
    out = tmp_path / "out"
    assert main(["plan", "--minutes", "5", "--out", str(out), "--profile", "smoke", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["done"] == 3
    monkeypatch.setenv("QREPRO_RUNS", str(tmp_path / "elsewhere"))
    assert main(["plan", "--import", str(out)]) == 0
    assert "4 file(s) added" in capsys.readouterr().out
    assert main(["plan"]) == 2


@pytest.fixture(autouse=True)
def one_cpu_thread(one_thread):
    yield


def test_the_gpu_plan_is_what_the_chapters_declare_in_the_order_it_had_as_a_hand_written_list():
    from qrepro.chapters import CHAPTERS
    from qrepro.plan import PRIORITY

    assert {name for name, _ in PRIORITY} == {name for name, chapter in CHAPTERS.items() if chapter.gpu_plan}
    assert PRIORITY == (("apot", {"bit": "4,3,2"}), ("sq", {"study_arch": ""}), ("pdqat", {"bit": "4,2,1"}),
                        ("gpfq", {"sweeps": "bits,scalar"}), ("apot", {"bit": "4,3,2", "seeds": 3}),
                        ("sq", {"study_arch": "", "seeds": 3}), ("pdqat", {"bit": "4,2,1", "seeds": 3}),
                        ("gpfq", {"sweeps": "bits,scalar", "seeds": 3}), ("scoreboard", {}))
