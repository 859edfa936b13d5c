"""Configs name runs stably; get_or_run does no work twice; bad or foreign records are refused, never overwritten."""
import json

import pytest
from conftest import REPO
from helpers import rewrite_record

from qrepro.chapters import first_phase
from qrepro.config import Schedule, TrainConfig, config_from_dict
from qrepro.runs import RecordError, find_record, get_or_run, run_dir, store
from qrepro.runs import execute as execute_module


def lenet(epochs: int = 1, profile: str = "smoke", **kw) -> TrainConfig:
    return TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=epochs, batch_size=128),
                       profile=profile, **kw)


def test_config_hash_is_stable_and_covers_every_field():
    a, b = lenet(), lenet()
    assert a.run_id == b.run_id and a.run_id.startswith("smoke-lenet5-fp-")
    assert lenet(epochs=2).hash != a.hash
    assert lenet(seed=1).hash != a.hash
    assert lenet(options={"x": 1}).hash != a.hash
    assert config_from_dict(json.loads(json.dumps(a.to_dict()))).hash == a.hash


def test_child_run_id_covers_its_parent_chain():
    two_bit = first_phase("apot", bit=2)[-1]
    other = first_phase("apot", bit=2, epochs=3)[-1]
    assert two_bit.init.init.init.bits == 32  # 2 <- 3 <- 4 <- 32
    assert config_from_dict(json.loads(json.dumps(two_bit.to_dict()))).hash == two_bit.hash
    assert two_bit.hash != other.hash


def test_get_or_run_does_no_work_the_second_time(runs_root, monkeypatch):
    calls = []
    original = store.execute_train
    monkeypatch.setattr(store, "execute_train", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = get_or_run(lenet(), progress=False)
    second = get_or_run(lenet(), progress=False)
    assert calls == [1]
    assert first == second
    folder = run_dir(lenet())
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "model.pt", "record.json"]  # checkpoint removed
    assert first["top1"] == first["epochs"][-1]["test_top1"]  # the last epoch, not the best


def test_corrupted_and_foreign_records_are_refused_and_left_untouched(runs_root):
    config = lenet()
    path = run_dir(config) / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    with pytest.raises(RecordError, match="not a readable record"):
        get_or_run(config, progress=False)
    assert path.read_text() == "{ not json"

    other = get_or_run(lenet(seed=5), progress=False)  # a real record of another config
    path.write_text(json.dumps(other))
    with pytest.raises(RecordError, match="hashes to"):
        get_or_run(config, progress=False)
    assert json.loads(path.read_text()) == other


def test_stale_records_rerun_only_for_cheap_profiles(runs_root, monkeypatch):
    record = get_or_run(lenet(), progress=False)
    monkeypatch.setattr(store, "is_stale", lambda r: True)
    calls = []
    original = store.execute_train
    monkeypatch.setattr(store, "execute_train", lambda *a, **k: calls.append(1) or original(*a, **k))
    get_or_run(lenet(), progress=False)
    assert calls == [1]  # smoke: re-run

    quick = lenet(profile="quick")  # pretend a GPU run was recorded and committed: a copy under its own id
    folder = run_dir(quick)
    folder.mkdir(parents=True)
    rewrite_record(folder / "record.json", {**record, "run_id": quick.run_id, "config": quick.to_dict()})
    assert get_or_run(quick, progress=False)["run_id"] == quick.run_id
    assert calls == [1]  # quick: kept (and flagged by the report), never re-run silently


def test_missing_parent_weights_is_a_clear_error(runs_root):
    parent = lenet()
    get_or_run(parent, progress=False)
    (run_dir(parent) / "model.pt").unlink()
    with pytest.raises(RecordError, match="weights .* are not on this machine"):
        get_or_run(lenet(init=parent, seed=1), progress=False)


def test_unknown_method_data_and_model_are_clear_errors(runs_root):
    with pytest.raises(ValueError, match="valid: fp, apot"):
        get_or_run(lenet(method="nope"), progress=False)
    with pytest.raises(ValueError, match="valid names"):
        get_or_run(TrainConfig(chapter="t", data="mnist", arch="lenet5", schedule=Schedule(epochs=1)), progress=False)
    with pytest.raises(ValueError, match="available models"):
        get_or_run(TrainConfig(chapter="t", data="digits", arch="alexnet", schedule=Schedule(epochs=1)), progress=False)
    with pytest.raises(ValueError, match="supports bits"):
        get_or_run(lenet(method="apot", bits=7), progress=False)
    assert find_record(lenet(method="nope")) is None  # nothing half-written


def test_cuda_request_without_cuda_is_a_clear_error(runs_root, monkeypatch):
    monkeypatch.setattr(execute_module.torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        get_or_run(lenet(), device="cuda", progress=False)


def test_verdicts_compare_drops_only_on_the_papers_data_set():
    import pandas as pd

    from qrepro.report import accuracy_table
    from qrepro.report.tables import TOLERANCE

    runs = pd.DataFrame([
        {"data_set": data_set, "profile": "quick", "arch": "resnet20", "method": "apot", "bits": bits, "seed": 0,
         "top1": top1, "best_test_top1": top1, "stale": False, "run_id": f"{data_set}-{bits}"}
        for data_set in ("cifar10-jpeg", "digits") for bits, top1 in ((32, 92.0), (4, 91.8), (2, 88.0))
    ])
    paper = pd.DataFrame({"arch": "resnet20", "data": "cifar10", "bits": [32, 4, 2], "top1": [91.6, 92.3, 91.0]})
    table = accuracy_table(runs, paper=paper).set_index(["data_set", "bits"])
    assert table.loc[("cifar10-jpeg", 4), "drop"] == pytest.approx(0.2)
    assert table.loc[("cifar10-jpeg", 4), "paper_drop"] == pytest.approx(-0.7)
    assert table.loc[("cifar10-jpeg", 4), "verdict"] == "on quick: holds (n=1)"  # 0.9 <= TOLERANCE, one seed
    assert TOLERANCE == 1.0
    assert table.loc[("cifar10-jpeg", 2), "verdict"] == "on quick: larger drop than the paper (n=1)"  # 4.0 vs 0.6
    assert table.loc[("digits", 2), "verdict"].startswith("n/a")
    assert table.loc[("digits", 2), "run_ids"] == ["digits-2"]


def test_the_intro_states_the_verdict_tolerance_the_tables_use():
    from conftest import REPO

    from qrepro.report.tables import TOLERANCE

    from qrepro.report.tables import SPREAD

    assert f"± ({SPREAD} sd + {TOLERANCE:.1f}) percentage points" in (REPO / "book" / "intro.md").read_text()


def test_benchmark_results_are_written_with_provenance_and_shown_on_the_reproduce_page(runs_root, monkeypatch):
    from qrepro import bench
    from qrepro.report.cost import benchmark_table

    monkeypatch.setitem(bench.BENCHMARKS, "tiny", lambda device: [{"case": "a", "ms_per_step": 1.234567}])
    bench.main(["tiny"], device="cpu")
    [result] = bench.recorded()
    assert result["benchmark"] == "tiny" and result["rows"] == [{"case": "a", "ms_per_step": 1.234567}]
    html = benchmark_table(result).to_html()
    assert f"commit {result['commit'][:10]}" in html and ">1.235<" in html
    with pytest.raises(ValueError, match="unknown benchmark.*valid: .*qat_step"):
        bench.main(["no-such-benchmark"], device="cpu")


def test_the_target_table_reads_each_target_off_the_records_with_the_devices_limit():
    from qrepro.bench.targets import target_table

    def qat_step(device: str, apot_ms: float) -> dict:
        rows = [{"case": "fp", "method": "fp", "arch": "resnet20", "ms_per_step": 100.0},
                {"case": "bwn", "method": "bwn", "arch": "resnet20", "ms_per_step": 110.0},
                {"case": "apot", "method": "apot", "arch": "resnet20", "ms_per_step": apot_ms},
                {"case": "fp (pre-activation)", "method": "fp", "arch": "preact_resnet20", "ms_per_step": 200.0},
                {"case": "pdqat (pre-activation)", "method": "pdqat", "arch": "preact_resnet20",
                 "ms_per_step": 390.0}]
        return {"benchmark": "qat_step", "device": device, "date": "2026-11-30T00:00:00", "rows": rows}

    table = target_table([qat_step("CPU x, 2 threads", 125.0), qat_step("NVIDIA H200", 125.0),
                          qat_step("CPU x, 2 threads", 131.0), {"benchmark": "tiny", "rows": []}])
    steps = table[table["target"].str.startswith("QAT")]
    assert steps["worst case"].tolist() == ["apot"] * 3 and steps["measured"].tolist() == [1.25, 1.25, 1.31]
    assert steps["limit"].tolist() == [1.3, 1.2, 1.3] and steps["met"].tolist() == ["yes", "no", "no"]
    pdqat = table[table["target"].str.startswith("PD-QAT")]
    assert pdqat["measured"].tolist() == [1.95] * 3 and set(pdqat["met"]) == {"yes"}

    # a record with both precisions compares each case with the full-precision step of its own precision
    both = qat_step("CPU x, 2 threads", 125.0)
    both["rows"] = [{**row, "precision": "fp32"} for row in both["rows"]] + [
        {**row, "precision": "bf16", "ms_per_step": row["ms_per_step"] * (0.5 if row["method"] == "fp" else 0.6)}
        for row in both["rows"]]
    steps = target_table([both])
    steps = steps[steps["target"].str.startswith("QAT")]
    assert steps["worst case"].tolist() == ["apot, bf16"] and steps["measured"].tolist() == [1.5]

    book_runs = {"benchmark": "book_runs", "device": "CPU x, 2 threads", "date": "2026-11-30T00:00:00",
                 "rows": [{"case": "before (commit 0ebc7d2), one process per chapter", "seconds": 400.0},
                          {"case": "one process per chapter", "seconds": 300.0},
                          {"case": "one process per core", "seconds": 190.0}]}
    smoke = target_table([book_runs])
    assert smoke["worst case"].tolist() == ["one process per core"] and smoke["measured"].tolist() == [0.475]


def test_the_smoke_training_before_is_the_package_of_its_commit(tmp_path):
    from qrepro.bench.book_runs import package_at

    tree = package_at("HEAD", tmp_path / "tree")
    assert (tree / "qrepro" / "__init__.py").read_bytes() == (REPO / "qrepro" / "__init__.py").read_bytes()
    with pytest.raises(RuntimeError, match="needs commit 0000000 in the git history"):
        package_at("0000000", tmp_path / "missing")


def test_a_record_names_the_memory_format_its_epochs_trained_in():
    from qrepro.runs.execute import memory_format

    assert memory_format([{"epoch": 1}]) == "contiguous"  # epochs recorded before epochs named it
    assert memory_format([{"memory_format": "channels_last"}] * 2) == "channels_last"
    assert memory_format([{"epoch": 1}, {"memory_format": "channels_last"}]) == "mixed"  # resumed under new code


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from qrepro.atomic import atomic_path, write_json

    target = tmp_path / "record.json"
    write_json(target, {"top1": 1.0})
    with pytest.raises(ValueError):
        write_json(target, {"top1": float("nan")})  # strict JSON: refused, not written
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == '{\n "top1": 1.0\n}\n' and [p.name for p in tmp_path.iterdir()] == ["record.json"]
    assert target.stat().st_mode & 0o777 == 0o644
