"""A record is a claim (this code, on this data, from this parent, gave this number): each way it could be
silently wrong is refused with an error that names the file and the fix."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from qrepro.config import Schedule, TrainConfig
from qrepro.quantizers import straight_through
from qrepro.runs import RecordError, behaviour, find_record, get_or_run, is_stale, run_dir, store
from qrepro.runs.behaviour import DataShape, behaviour_fingerprint
from qrepro.runs.execute import CHECKPOINT_FILE, WEIGHTS_FILE
from qrepro.train import loop
from qrepro.train.checkpoint import CheckpointError
from helpers import forget_fingerprints, rewrite_record

REPO = Path(__file__).resolve().parents[1]


def lenet(epochs: int = 1, profile: str = "smoke", data: str = "digits", batch_size: int = 128, **kw) -> TrainConfig:
    return TrainConfig(chapter="t", data=data, arch="lenet5", schedule=Schedule(epochs=epochs, batch_size=batch_size),
                       profile=profile, **kw)


def tree(root: Path, shade: int) -> Path:
    """A two-class 8x8 ImageFolder tree whose pixels depend on ``shade``."""
    for split in ("train", "test"):
        for label, cls in enumerate(("a", "b")):
            (root / split / cls).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (8, 8), (label * 100 + shade, 10 * i, 50 + 20 * i)).save(
                    root / split / cls / f"{i}.png")
    return root


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# --- 1. data identity ---

def test_a_record_never_answers_other_data_under_the_same_name(runs_root, tmp_path, one_thread):
    config = lenet(data="imagefolder", batch_size=4)
    first = get_or_run(config, data_root=tree(tmp_path / "A", 0), progress=False)
    copy = tree(tmp_path / "copy-of-A", 0)  # the same images elsewhere: the same data, the same record
    assert get_or_run(config, data_root=copy, progress=False) == first
    with pytest.raises(RecordError, match="fingerprint"):
        get_or_run(config, data_root=tree(tmp_path / "B", 7), progress=False)


# --- 2. divergence ---

@pytest.mark.parametrize("field, value", [("lr", math.nan), ("lr", math.inf), ("lr", 0.0), ("weight_decay", -1.0),
                                          ("momentum", math.nan)])
def test_schedules_refuse_non_finite_and_negative_hyper_parameters(field, value):
    with pytest.raises(ValueError, match=field):
        Schedule(epochs=1, **{field: value})


def test_a_diverged_run_stops_with_its_epoch_and_batch_and_records_nothing(runs_root, one_thread):
    config = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=2, lr=1e6),
                         profile="smoke")
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch \d+ of"):
        get_or_run(config, progress=False)
    assert find_record(config) is None


def test_records_are_strict_json(runs_root, one_thread):
    get_or_run(lenet(), progress=False)
    path = run_dir(lenet()) / "record.json"
    json.loads(path.read_text(), parse_constant=lambda token: pytest.fail(f"{token} in a record"))
    assert path.stat().st_mode & 0o777 == 0o644
    path.write_text(path.read_text().replace('"top5": ', '"top5": NaN, "x": ', 1))
    with pytest.raises(RecordError, match="not a readable record"):
        find_record(lenet())


# --- 3. code version: behaviour, not bytes ---

def test_behaviour_fingerprint_ignores_source_bytes_and_sees_a_changed_rounding(monkeypatch):
    from qrepro.chapters import first_phase
    from qrepro.quantizers import dorefa

    config = next(c for c in first_phase("scoreboard", profile="smoke") if c.method == "dorefa")
    shape = DataShape(1, 8, 10)
    monkeypatch.setattr(behaviour, "store_dir", lambda: None)  # this test patches the package: keep nothing
    forget_fingerprints()
    before = behaviour_fingerprint(config, shape)
    forget_fingerprints()
    monkeypatch.setattr("qrepro.runs.provenance.LOADED_SOURCE", "another0source")  # a refactor
    assert behaviour_fingerprint(config, shape) == before
    forget_fingerprints()
    monkeypatch.setattr(dorefa, "round_ste", lambda x: straight_through(x, torch.floor(x + 0.4999)))  # rounds 0.5 down
    assert behaviour_fingerprint(config, shape) != before
    forget_fingerprints()


def test_a_record_is_current_while_its_behaviour_matches(runs_root, one_thread, monkeypatch):
    record = get_or_run(lenet(), progress=False)
    assert not is_stale(record)
    assert not is_stale({**record, "code": {**record["code"], "source_hash": "0" * 12, "sources": ["0" * 12]}})
    assert is_stale({**record, "code": {**record["code"], "behaviour": "0" * 12}})


def test_a_checkpoint_of_code_that_computes_differently_is_never_resumed(runs_root, one_thread, monkeypatch):
    config = lenet(epochs=3, profile="quick")
    original = loop.save_checkpoint

    def die_after_first(path, state):
        original(path, state)
        if path.parent == run_dir(config):  # not the fingerprints' own short runs
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", die_after_first)
    with pytest.raises(KeyboardInterrupt):
        get_or_run(config, progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", original)
    state = torch.load(run_dir(config) / CHECKPOINT_FILE, weights_only=False)
    state["version"]["behaviour"] = "0" * 12
    torch.save(state, run_dir(config) / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="computes something else"):
        get_or_run(config, progress=False)
    (run_dir(config) / CHECKPOINT_FILE).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=f"{CHECKPOINT_FILE} is not a readable checkpoint"):
        get_or_run(config, progress=False)


def test_a_smoke_run_starts_afresh_from_a_leftover_checkpoint_of_other_code(runs_root, one_thread):
    config = lenet(epochs=2)
    stale = get_or_run(config, progress=False)
    folder = run_dir(config)
    torch.save({"history": stale["epochs"], "version": {"behaviour": "0" * 12}}, folder / CHECKPOINT_FILE)
    rewrite_record(folder / "record.json", {**stale, "code": {**stale["code"], "behaviour": "0" * 12}})
    fresh = get_or_run(config, progress=False)
    assert fresh["date"] >= stale["date"] and fresh["code"]["behaviour"] == stale["code"]["behaviour"]
    assert len(fresh["epochs"]) == 2 and not (folder / CHECKPOINT_FILE).exists()


# --- 4. parent weights ---

def test_a_child_starts_only_from_the_weights_its_parent_record_names(runs_root, one_thread):
    parent = lenet()
    child = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1), method="bwn", bits=1,
                        init=parent, profile="smoke")
    get_or_run(parent, progress=False)
    other = get_or_run(lenet(seed=3), progress=False)
    good = run_dir(parent) / WEIGHTS_FILE
    saved = good.read_bytes()
    good.write_bytes((run_dir(lenet(seed=3)) / WEIGHTS_FILE).read_bytes())  # another run's weights copied in
    with pytest.raises(RecordError, match="does not hold the weights"):
        get_or_run(child, progress=False)
    good.write_bytes(b"not a weights file")
    with pytest.raises(RecordError, match="is not a weights file"):
        get_or_run(child, progress=False)
    good.write_bytes(saved)
    record = get_or_run(child, progress=False)
    assert record["init"]["weights_sha256"] == find_record(parent)["weights_sha256"] != other["weights_sha256"]
    assert record["init"]["added_keys"] == []


# --- 5. one writer per run ---

@pytest.mark.slow
def test_two_processes_started_on_one_run_train_it_once(runs_root):
    script = ("import sys; from qrepro.runs import get_or_run; from qrepro.config import Schedule, TrainConfig; "
              "c = TrainConfig(chapter='t', data='digits', arch='lenet5', schedule=Schedule(epochs=3)); "
              "print(get_or_run(c, progress=False)['date'])")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=REPO) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0]  # the second returned the first one's record
    assert not list((runs_root / "t").glob("*/.*.tmp"))


# --- faults end in an error naming the file ---

def test_a_runs_directory_that_is_a_file_is_named(tmp_path, monkeypatch):
    target = tmp_path / "runs"
    target.write_text("")
    monkeypatch.setenv("QREPRO_RUNS", str(target))
    with pytest.raises(RecordError, match="is a file"):
        get_or_run(lenet(), progress=False)


def test_a_damaged_image_is_named_and_a_damaged_decode_cache_rebuilt(tmp_path, capsys):
    from qrepro.data import imagefolder

    root = tree(tmp_path / "A", 0)
    good = imagefolder.load_imagefolder(root)
    cache = next(imagefolder.cache_dir().glob("imagefolder-*.pt"))
    cache.write_bytes(cache.read_bytes()[:100])  # truncated
    again = imagefolder.load_imagefolder(root)
    assert again.fingerprint == good.fingerprint and "is damaged" in capsys.readouterr().err
    broken = root / "train" / "a" / "0.png"
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(ValueError, match=f"{broken} is not a readable image"):
        imagefolder.load_imagefolder(root)


def test_a_one_class_tree_is_refused(tmp_path):
    from qrepro.data import imagefolder

    root = tree(tmp_path / "A", 0)
    for split in ("train", "test"):
        for image in (root / split / "b").iterdir():
            image.unlink()
        (root / split / "b").rmdir()
    with pytest.raises(ValueError, match="at least two"):
        imagefolder.load_imagefolder(root)


def test_one_unreadable_record_is_listed_and_the_rest_shown(runs_root, one_thread, capsys):
    from qrepro.cli import main

    get_or_run(lenet(), progress=False)
    broken = runs_root / "t" / "smoke-lenet5-fp-0000000000" / "record.json"
    broken.parent.mkdir()
    broken.write_text("{")
    leftover = run_dir(lenet(seed=2)) / ".record.json.x.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("half")
    assert main(["records", "t"]) == 0
    out, err = capsys.readouterr()
    assert f"unreadable: {broken} is not a readable record" in err and lenet().run_id in out
    get_or_run(lenet(seed=2), progress=False)
    assert not leftover.exists()


def test_a_nan_reaching_an_apot_quantizer_is_a_clear_error():
    from qrepro.quantizers.apot import APoTActivation

    quantizer = APoTActivation(4)
    with torch.no_grad():
        quantizer.alpha.fill_(math.nan)
    with pytest.raises(FloatingPointError, match="not finite"):
        quantizer(torch.rand(3, 5))


def test_a_sweep_that_keeps_going_skips_only_what_starts_from_a_diverged_run(runs_root, one_thread):
    from qrepro.runs import get_or_run_all

    diverging = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1, lr=1e6))
    child = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1), init=diverging)
    with pytest.raises(RuntimeError, match="2 run"):
        get_or_run_all([diverging, child, lenet()], keep_going=True, progress=False)
    assert find_record(lenet()) is not None and find_record(diverging) is None and find_record(child) is None


def test_a_runs_directory_that_cannot_be_created_fails_before_any_training(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("QREPRO_RUNS", str(blocker / "runs"))  # a folder inside a file can never be made
    monkeypatch.setattr(store, "train_resuming",
                        lambda *a, **k: pytest.fail("trained before checking the runs directory"))
    with pytest.raises(RecordError, match="cannot create the run directory"):
        get_or_run(lenet(), progress=False)


@pytest.mark.slow
def test_the_behaviour_fingerprint_is_the_same_in_a_fresh_process_and_after_other_work(one_thread, monkeypatch,
                                                                                       tmp_path):
    from qrepro.chapters import first_phase

    config = next(c for c in first_phase("scoreboard", profile="smoke") if c.method == "ttq")
    here = behaviour_fingerprint(config, DataShape(1, 8, 10))
    torch.manual_seed(123)  # global state a run leaves behind must not matter
    forget_fingerprints()
    monkeypatch.setattr(behaviour, "store_dir", lambda: None)  # computed again, not read back
    assert behaviour_fingerprint(config, DataShape(1, 8, 10)) == here
    script = ("import json, sys; from qrepro.config import config_from_dict; "
              "from qrepro.runs.behaviour import DataShape, behaviour_fingerprint; "
              "print(behaviour_fingerprint(config_from_dict(json.loads(sys.argv[1])), DataShape(1, 8, 10)))")
    fresh = subprocess.run([sys.executable, "-c", script, json.dumps(config.to_dict())], capture_output=True,
                           text=True, check=True, cwd=REPO,
                           env={**os.environ, "OMP_NUM_THREADS": "2", "XDG_CACHE_HOME": str(tmp_path)})
    assert fresh.stdout.strip() == here


def test_a_source_edit_mid_run_leaves_the_record_naming_the_code_that_ran(runs_root, one_thread, monkeypatch):
    from qrepro.runs import provenance

    original = loop.save_checkpoint

    def edit_and_commit_after_the_first_epoch(path, state):
        original(path, state)
        monkeypatch.setattr(provenance, "package_hash", lambda: "edited0source")
        monkeypatch.setattr(provenance, "git_commit", lambda: ("f" * 40, False))

    monkeypatch.setattr(loop, "save_checkpoint", edit_and_commit_after_the_first_epoch)
    record = get_or_run(lenet(epochs=2, profile="quick"), progress=False)
    loaded = provenance.LOADED_SOURCE
    assert record["code"]["source_hash"] == loaded and record["code"]["sources"] == [loaded]
    assert [epoch["source_hash"] for epoch in record["epochs"]] == [loaded, loaded]
    assert (record["commit"], record["dirty"]) == provenance.LOADED_COMMIT != ("f" * 40, False)
    monkeypatch.setattr(provenance, "package_hash", lambda: loaded)  # the files are the loaded code again
    assert provenance.provenance(torch.device("cpu"))["commit"] == "f" * 40


def test_a_copy_without_git_records_the_commit_it_is_given(tmp_path, monkeypatch):
    from qrepro.report.cost import benchmark_table
    from qrepro.runs import provenance

    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)  # no git repository here, as on a device's copy
    monkeypatch.delenv("QREPRO_COMMIT", raising=False)
    assert provenance.git_commit() == (None, False)
    monkeypatch.setenv("QREPRO_COMMIT", "0123456789abcdef")
    assert provenance.git_commit() == ("0123456789abcdef", False)
    result = {"benchmark": "b", "device": "d", "torch": "t", "commit": None, "dirty": False, "date": "2026-11-29",
              "rows": [{"case": "fp", "ms": 1.0}]}
    assert "commit unknown" in benchmark_table(result).caption  # a record without a commit still renders


# --- record values ---

@pytest.mark.parametrize("edit, reason", [
    (lambda r: r.update(top1=r["top1"] + 5.0), "is not the last epoch's evaluation"),
    (lambda r: r.pop("top1"), "has no top1"),
    (lambda r: r.update(top1="91.0"), "not an accuracy in percent"),
    (lambda r: r.update(top1=1e6), "not an accuracy in percent"),
    (lambda r: r.update(top1=None), "not an accuracy in percent"),
    (lambda r: r.update(best_test_top1=-3.0), "best_test_top1 = -3.0"),
    (lambda r: r.update(wall_time_s=-1.0), "wall_time_s"),
    (lambda r: r["epochs"].append(dict(r["epochs"][-1])), "epochs recorded for a schedule of 1"),
])
def test_an_edited_number_is_refused_as_invalid_never_shown(runs_root, one_thread, capsys, edit, reason):
    from qrepro.cli import main
    from qrepro.runs import recorded, unreadable

    config = lenet()
    get_or_run(config, progress=False)
    path = run_dir(config) / "record.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError, match="invalid"):
        find_record(config)
    assert recorded("t") == [] and reason in unreadable("t")[0]
    main(["records", "t"])
    out = capsys.readouterr()
    assert "no records for chapter t" in out.out and reason in out.err


def test_a_record_under_another_chapters_folder_is_not_that_chapters(runs_root, one_thread):
    from qrepro.runs import recorded, unreadable

    config = lenet()
    get_or_run(config, progress=False)
    moved = runs_root / "apot" / config.run_id
    moved.parent.mkdir(parents=True)
    run_dir(config).rename(moved)
    assert recorded("apot") == [] and "its config is chapter 't'" in unreadable("apot")[0]


def test_an_argument_error_leaves_no_empty_run_folder(runs_root):
    config = lenet(method="apot", bits=7)  # APoT has no 7 bits
    with pytest.raises(ValueError, match="supports bits"):
        get_or_run(config, progress=False)
    assert not run_dir(config).exists()


def test_more_threads_than_the_machine_has_are_capped_with_a_warning(monkeypatch):
    from qrepro.profiles import threads_for

    monkeypatch.setenv("QREPRO_THREADS", str((os.cpu_count() or 1) + 5))
    with pytest.warns(UserWarning, match="more than this machine"):
        assert threads_for("cifar10-jpeg") == (os.cpu_count() or 1)


# --- import ---

def pack(out: Path, members: dict[str, bytes], tar_name: str = "records.tar") -> Path:
    import io
    import tarfile

    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / tar_name, "a") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return out


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def made_run() -> tuple[TrainConfig, bytes, bytes]:
    """A one-epoch run recorded here: its config, record and weights as bytes."""
    config = lenet()
    get_or_run(config, progress=False)
    folder = run_dir(config)
    return config, (folder / "record.json").read_bytes(), (folder / WEIGHTS_FILE).read_bytes()


@pytest.mark.parametrize("damage", ["edited record", "foreign weights", "oversized member", "path outside"])
def test_a_refused_import_leaves_runs_byte_identical_and_refuses_again(runs_root, tmp_path, one_thread, damage):
    from qrepro.plan import RECORD_LIMIT, import_results

    config, record, weights = made_run()
    good = f"t/{config.run_id}"
    members = {f"{good}/record.json": record}
    weights_members = {f"{good}/{WEIGHTS_FILE}": weights}
    if damage == "edited record":
        edited = json.loads(record)
        edited["top1"] += 5.0
        members[f"{good}/record.json"] = json.dumps(edited).encode()
    elif damage == "foreign weights":
        state = torch.load(run_dir(config) / WEIGHTS_FILE, weights_only=True)
        state[next(iter(state))] = state[next(iter(state))] + 1
        import io
        buffer = io.BytesIO()
        torch.save(state, buffer)
        weights_members = {f"{good}/{WEIGHTS_FILE}": buffer.getvalue()}
    elif damage == "oversized member":
        members[f"t/{lenet(seed=1).run_id}/record.json"] = b" " * (RECORD_LIMIT + 1)
    else:
        members["../escape/record.json"] = record
    here = tmp_path / "here"
    here.mkdir()
    (here / "kept.txt").write_text("already here")
    out = pack(pack(tmp_path / "out", members), weights_members, "weights.tar")
    before = snapshot(here)
    for _ in range(2):  # a second import of a refused tar refuses again
        with pytest.raises(RecordError, match="nothing was imported|invalid"):
            import_results(out, here)
        assert snapshot(here) == before


def test_a_sound_import_adds_the_record_and_its_weights_once(runs_root, tmp_path, one_thread):
    from qrepro.plan import import_results

    config, record, weights = made_run()
    good = f"t/{config.run_id}"
    out = pack(pack(tmp_path / "out", {f"{good}/record.json": record}), {f"{good}/{WEIGHTS_FILE}": weights},
               "weights.tar")
    here = tmp_path / "here"
    assert sorted(import_results(out, here)) == [f"{good}/{WEIGHTS_FILE}", f"{good}/record.json"]
    assert import_results(out, here) == []
    assert (here / good / "record.json").read_bytes() == record


def test_a_full_disk_is_named_with_the_file_instead_of_torchs_raw_message(runs_root, one_thread, monkeypatch):
    import shutil
    from collections import namedtuple

    from qrepro import atomic

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(atomic.torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: namedtuple("usage", "total used free")(10, 10, 0))
    config = lenet()
    with pytest.raises(OSError, match=r"no space left to write .*checkpoint\.pt .*run the same command again"):
        get_or_run(config, progress=False)
    assert not list(run_dir(config).glob(".*.tmp"))  # no temporary file left behind


# --- what one short epoch cannot see: the lifecycle fingerprint, and a re-run parent ---

def milestones_one_later(optimizer, schedule):
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, [m + 1 for m in schedule.milestones], schedule.gamma)


def keep_the_partial_batch(monkeypatch):
    from qrepro.data import loader

    original = loader.DeviceLoader.__init__
    monkeypatch.setattr(loader.DeviceLoader, "__init__",
                        lambda self, *args, **kwargs: original(self, *args, **{**kwargs, "drop_last": False}))


def clamp_crop_offsets(monkeypatch):
    from qrepro.data import loader

    original = loader.crop
    monkeypatch.setattr(loader, "crop", lambda x, offsets, pad: original(x, offsets.clamp(max=6), pad))


def forget_the_loader_position_on_resume(monkeypatch):
    from qrepro.data import loader

    monkeypatch.setattr(loader.DeviceLoader, "load_state_dict", lambda self, state: None)


def edit_a_kernel(monkeypatch, tmp_path):
    import shutil

    copy = tmp_path / "package"
    shutil.copytree(behaviour.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / "quantizers" / "cpu_kernels.cpp"
    source.write_text(source.read_text().replace("nearbyint", "round", 1))
    monkeypatch.setattr(behaviour, "PACKAGE_DIR", copy)


@pytest.mark.parametrize("edit", ["milestones", "partial batch", "crop offsets at pad 4", "resume", "kernel source"])
def test_each_edit_one_epoch_cannot_see_changes_the_lifecycle_fingerprint(edit, monkeypatch, tmp_path):
    from qrepro.runs.behaviour import lifecycle_fingerprint
    from qrepro.train import optim

    config = TrainConfig(chapter="t", data="cifar10-jpeg", arch="lenet5", method="apot", bits=4, profile="lite",
                         schedule=Schedule(epochs=15, batch_size=128, lr_schedule="step", milestones=(7, 11)))
    shape = DataShape(3, 32, 10)
    monkeypatch.setattr(behaviour, "store_dir", lambda: None)  # this test patches the package: keep nothing
    forget_fingerprints()
    before = behaviour_fingerprint(config, shape), lifecycle_fingerprint(config, shape)
    if edit == "milestones":
        for module in (optim, loop, behaviour):
            monkeypatch.setattr(module, "build_scheduler", lambda o, s: milestones_one_later(o, s)
                                if s.lr_schedule == "step" else optim.build_scheduler(o, s), raising=False)
    elif edit == "partial batch":
        keep_the_partial_batch(monkeypatch)
    elif edit == "crop offsets at pad 4":
        clamp_crop_offsets(monkeypatch)
    elif edit == "resume":
        forget_the_loader_position_on_resume(monkeypatch)
    else:
        edit_a_kernel(monkeypatch, tmp_path)
    forget_fingerprints()
    after = behaviour_fingerprint(config, shape), lifecycle_fingerprint(config, shape)
    forget_fingerprints()
    assert after[1] != before[1], "the lifecycle fingerprint missed the edit"
    if edit != "partial batch":  # the one-epoch fingerprint's data divides evenly: it cannot see this one either
        assert after[0] == before[0] or edit == "resume", "(the one-epoch fingerprint already saw this edit)"


def test_a_record_with_a_lifecycle_is_stale_when_it_differs_and_one_without_is_checked_as_before(runs_root,
                                                                                                  one_thread):
    record = get_or_run(lenet(), progress=False)
    assert "lifecycle" in record["code"] and not is_stale(record)
    assert is_stale({**record, "code": {**record["code"], "lifecycle": "0" * 12}})
    legacy = {key: value for key, value in record["code"].items() if key != "lifecycle"}
    assert not is_stale({**record, "code": legacy})  # made before lifecycle fingerprints: the first one decides


def test_a_record_made_with_kernels_that_compute_the_same_stays_current_until_the_kernels_change(runs_root,
                                                                                                    one_thread,
                                                                                                    monkeypatch):
    """EQUIVALENT_KERNELS keeps records made with removed kernels current (they computed what eager does), but only
    while the kernels that replaced them are the current ones: a later kernel change flags them as it flags the rest."""
    record = get_or_run(lenet(), progress=False)
    made_with = behaviour.kernel_sources()
    monkeypatch.setattr(behaviour, "store_dir", lambda: None)  # the sources are patched: keep nothing on disk
    monkeypatch.setattr(behaviour, "kernel_sources", lambda: "b" * 12)  # the kernels change
    forget_fingerprints()
    assert is_stale(record)
    monkeypatch.setattr(behaviour, "EQUIVALENT_KERNELS", {made_with: "b" * 12})  # ... to ones that compute the same
    assert not is_stale(record)
    monkeypatch.setattr(behaviour, "kernel_sources", lambda: "c" * 12)  # then change again, with no such statement
    forget_fingerprints()
    assert is_stale(record)
    monkeypatch.setattr(behaviour, "EQUIVALENT_KERNELS", {made_with: "b" * 12, "b" * 12: "c" * 12})  # a chain
    assert not is_stale(record)
    forget_fingerprints()


def test_the_kernel_equivalences_lead_to_the_current_sources():
    """Every retired identity of EQUIVALENT_KERNELS reaches today's kernel sources: the map was updated with them."""
    identities = behaviour.kernel_identities()
    assert identities[0] == behaviour.kernel_sources()
    assert set(behaviour.EQUIVALENT_KERNELS) <= set(identities)


def test_a_re_run_parent_makes_its_children_and_their_children_stale(runs_root, one_thread, monkeypatch):
    import shutil

    parent = lenet(profile="quick")
    child = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1), method="bwn", bits=1,
                        init=parent, profile="quick")
    grandchild = TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1), method="bwn",
                             bits=1, init=child, profile="quick", options={"ratio": 0.5})
    for config in (parent, child, grandchild):
        get_or_run(config, progress=False)
    assert not any(is_stale(find_record(c)) for c in (parent, child, grandchild))
    shutil.rmtree(run_dir(parent))
    seed = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda s: seed(s + 1))  # the parent re-run computes other weights
    get_or_run(parent, progress=False)
    monkeypatch.setattr(torch, "manual_seed", seed)
    assert not is_stale(find_record(parent))
    assert is_stale(find_record(child)) and is_stale(find_record(grandchild))


def test_any_edited_field_of_a_digested_record_makes_it_invalid(runs_root, one_thread, capsys):
    from qrepro.cli import main

    config = lenet()
    record = get_or_run(config, progress=False)
    assert find_record(config) == record and len(record["digest"]) == 16
    path = run_dir(config) / "record.json"
    edited = json.loads(path.read_text())
    edited["epochs"][0]["lr"] = 0.5  # no range or consistency check covers it: the digest does
    path.write_text(json.dumps(edited))
    with pytest.raises(RecordError, match="does not match its digest"):
        find_record(config)
    main(["records", "t"])
    assert "does not match its digest" in capsys.readouterr().err
