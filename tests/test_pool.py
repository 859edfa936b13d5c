"""Training the runs of a sweep in worker processes (runs.pool), and keeping behaviour fingerprints on disk."""
import os
from pathlib import Path

import pytest
from helpers import forget_fingerprints

from qrepro.config import Schedule, TrainConfig
from qrepro.runs import behaviour, get_or_run_all, provenance
from qrepro.runs.behaviour import DataShape, behaviour_fingerprint
from qrepro.runs.pool import RunPool, usable_workers


def lenet(data: str = "digits", **kw) -> TrainConfig:
    return TrainConfig(chapter="t", data=data, arch="lenet5", schedule=Schedule(epochs=1, batch_size=128), **kw)


def sweep() -> list[TrainConfig]:
    """A parent with two children (one of them a chain of two) and an independent run."""
    parent = lenet()
    child = lenet(method="bwn", bits=1, init=parent)
    return [lenet(method="twn", bits=2, init=parent), lenet(method="dorefa", bits=2, init=child), lenet(seed=1)]


@pytest.mark.slow
def test_workers_make_the_records_one_process_makes(tmp_path, monkeypatch, one_thread):
    configs = sweep()
    monkeypatch.setenv("QREPRO_RUNS", str(tmp_path / "serial"))
    serial = get_or_run_all(configs, progress=False)
    monkeypatch.setenv("QREPRO_RUNS", str(tmp_path / "parallel"))  # the workers see it: they start after this
    with RunPool(2, progress=False) as pool:
        parallel = pool.records_of(configs)
    assert [r["run_id"] for r in parallel] == [c.run_id for c in configs]  # in the order asked
    for one, other in zip(serial, parallel):
        assert (one["top1"], one["weights_sha256"]) == (other["top1"], other["weights_sha256"])
    assert len(list((tmp_path / "parallel" / "t").iterdir())) == 5  # the parents, recorded once each


@pytest.mark.slow
def test_an_error_in_a_worker_stops_the_pool_and_is_raised_here(runs_root):
    with pytest.raises(ValueError, match="unknown"):
        with RunPool(2, progress=False) as pool:
            pool.records_of([lenet(), lenet(data="no-such-data")])


def test_workers_must_be_auto_or_a_positive_count():
    assert usable_workers("auto") >= 1 and usable_workers("3") == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="workers must be 'auto' or a whole number >= 1"):
            usable_workers(bad)


def test_fingerprints_are_kept_per_source_and_read_back(tmp_path, monkeypatch):
    config, shape = lenet(method="bwn", bits=1), DataShape(1, 8, 10)
    monkeypatch.setattr(behaviour, "store_dir", lambda: tmp_path / "store")
    forget_fingerprints()
    computed = behaviour_fingerprint(config, shape)
    [kept] = (tmp_path / "store").iterdir()
    assert kept.read_text() == computed

    def never(*args):
        raise AssertionError("computed again although it is kept")

    forget_fingerprints()
    monkeypatch.setattr(behaviour, "_fingerprint", never)
    assert behaviour_fingerprint(config, shape) == computed  # read back, as a fresh process would

    kept.write_text("damaged")
    monkeypatch.undo()
    monkeypatch.setattr(behaviour, "store_dir", lambda: tmp_path / "store")
    forget_fingerprints()
    assert behaviour_fingerprint(config, shape) == computed and kept.read_text() == computed  # computed again

    monkeypatch.setattr(provenance, "package_hash", lambda: "edited0since")  # files edited after this process started
    monkeypatch.setattr(behaviour, "store_dir", lambda: tmp_path / "other")
    forget_fingerprints()
    behaviour_fingerprint(config, shape)
    assert not (tmp_path / "other").exists()  # nothing kept for code this process may not run
    forget_fingerprints()


@pytest.mark.slow
def test_sigterm_to_a_pool_leaves_no_worker_behind(tmp_path):
    """The parent of `run all --workers 2` stopped by SIGTERM stops its workers too (they resume next time)."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "QREPRO_RUNS": str(tmp_path / "runs"), "QREPRO_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "qrepro", "run", "all", "--workers", "2", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(parent.pid):
                found.append(int(status.parent.name))
        return found

    deadline = time.time() + 120
    while len(children()) < 2 and time.time() < deadline:  # both workers started (and training)
        time.sleep(0.5)
    workers = children()
    assert len(workers) >= 2
    time.sleep(5)
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=60)
    time.sleep(2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
