"""The scoreboard: every method of the package under one protocol, its cells from run records only."""
import re

import pytest

from qrepro.chapters import first_phase, parents, scoreboard
from qrepro.methods import METHODS, PTQ_METHODS
from qrepro.report import scoreboard as scoreboard_report
from qrepro.runs import get_or_run_all

pytestmark = pytest.mark.usefixtures("one_thread")

def test_every_method_of_the_package_has_a_row():
    assert {e.method for e in scoreboard.entries()} == (set(METHODS) - {"fp"}) | set(PTQ_METHODS)

def stages(cell: scoreboard.Cell) -> list:
    """The quantization runs of a cell's chain, from the full-precision model (excluded) to the cell's run."""
    chain, config = [], cell.config
    while config.run_id != cell.baseline.run_id:
        chain.append(config)
        config = config.init
    return chain

def test_split_budget_sums_to_the_budget_with_at_least_one_epoch_per_stage():
    assert scoreboard.split_budget(30, 4) == [8, 8, 7, 7]
    assert scoreboard.split_budget(3, 1) == [3]
    assert scoreboard.split_budget(3, 4) == [1, 1, 1, 1]

def test_cells_share_one_protocol_per_model():
    cells = scoreboard.plan(scoreboard.Params("quick", seeds=2))
    assert {c.config.data for c in cells} == {"cifar10"}
    for arch in ("resnet20", "vgg9"):
        same = [c for c in cells if c.entry.arch == arch]
        assert len({c.baseline.run_id for c in same if c.seed == 0}) == 1  # one full-precision model per seed
        budgets = {c.entry.label: sum(config.schedule.epochs for config in stages(c)) for c in same
                   if not c.entry.post_training}
        assert set(budgets.values()) == {scoreboard.SETTINGS["quick"].budget}, budgets
    assert {c.seed for c in cells} == {0, 1}

def test_table_shows_recorded_cells_with_their_runs_and_says_where_a_profile_has_no_record(runs_root):
    """Two cells run for real on digits (one epoch); every other cell of every profile says it has no record."""
    ran = [c for c in scoreboard.plan(scoreboard.Params("smoke", epochs=1))
           if (c.entry.label, c.bits) in {("BWN", 1), ("GPFQ", 2)}]
    get_or_run_all([c.config for c in ran], device="cpu")
    shown = ("smoke", "quick")
    cells = [c for p in shown for c in scoreboard.plan(scoreboard.Params(p, epochs=1 if p == "smoke" else 0))]
    records = scoreboard_report.recorded(cells)
    frame = scoreboard_report.scoreboard_frame(cells, records)
    assert sorted(frame["method"]) == ["BWN", "GPFQ"]
    assert (frame["drop"] == frame["fp_top1"] - frame["top1"]).all()

    data_sets = {p: scoreboard.profile_data(p, "") for p in shown}
    assert data_sets == {"smoke": "digits", "quick": "cifar10"}
    smoke = scoreboard_report.scoreboard_table(frame, "smoke", "digits").data.set_index("method")
    assert list(smoke.index) == [e.label for e in scoreboard.entries()]
    bwn = smoke.loc["BWN", "1 bit"]
    run = frame.set_index("method").loc["BWN"]
    assert bwn.startswith(f"{run['drop']:+.2f}<br>top-1 {run['top1']:.2f}, n=1, 2 levels<br>")
    assert re.findall(r'href="#run-([^"]+)"', bwn) == [run["run_id"]]
    assert smoke.loc["GPFQ", "3 bit"] == "no smoke record (9 levels)"  # 2^3 + 1, weights only
    assert smoke.loc["APoT", "2 bit"].endswith("3 / 4 levels)")  # ternary weights, 4 activation levels
    assert smoke.loc["GPFQ", "1 bit"] == ""  # GPFQ has no 1-bit cell on the scoreboard
    quick = scoreboard_report.scoreboard_table(frame, "quick", "cifar10").data
    assert quick["2 bit"].str.startswith("no quick record").sum() + (quick["2 bit"] == "").sum() == len(quick)
    assert (quick["2 bit"] != "").any()


def test_lite_runs_every_method_on_resnet20_on_cifar10_jpeg_from_the_converged_parents_with_one_budget():
    cells = scoreboard.plan(scoreboard.Params("lite"))
    assert {c.config.data for c in cells} == {"cifar10-jpeg"}
    assert {c.entry.label for c in cells} == {e.label for e in scoreboard.entries()}  # every method has a cell
    assert {c.config.arch for c in cells} == {"resnet20", "preact_resnet20"}  # binary and ternary on ResNet-20
    assert {c.bits for c in cells if max(c.entry.bits) > 2} == {2, 4}
    budget = scoreboard.SETTINGS["lite"].budget
    assert all(c.baseline == parents.converged(c.baseline.arch, c.baseline.arch_options, "cifar10-jpeg", c.seed)
               for c in cells)
    budgets = {c.entry.label: sum(config.schedule.epochs for config in stages(c)) for c in cells
               if not c.entry.post_training}
    assert set(budgets.values()) == {budget}  # ELQ's 7 partitions too
    sweep = first_phase("scoreboard", profile="lite")
    assert [c.method for c in sweep[:4]] == ["gpfq", "gpfq", "msq", "msq"]  # minutes, once the FP model exists
    assert {c.arch for c in sweep[-2:]} == {"preact_resnet20"}  # PD-QAT's own FP model last
    assert scoreboard.plan(scoreboard.Params("lite", "cifar10"))[0].config.data == "cifar10"

def test_runs_on_cifar10_use_every_thread_and_digits_one(monkeypatch):
    from qrepro.profiles import threads_for

    monkeypatch.delenv("QREPRO_THREADS", raising=False)
    assert threads_for("cifar10-jpeg") is None and threads_for("cifar10-nocrop") is None
    assert threads_for("digits") == 1 and threads_for("digits-val10") == 1
    monkeypatch.setenv("QREPRO_THREADS", "1")
    assert threads_for("cifar10-jpeg") == 1
    monkeypatch.setenv("QREPRO_THREADS", "two")
    with pytest.raises(ValueError, match="QREPRO_THREADS"):
        threads_for("cifar10-jpeg")

def test_cpu_runs_on_real_images_train_channels_last_and_digits_or_cuda_runs_nchw():
    from qrepro.profiles import channels_last_for

    assert channels_last_for("cifar10-jpeg", "cpu") and channels_last_for("cifar10-nocrop", "cpu")
    assert not channels_last_for("digits", "cpu") and not channels_last_for("digits-val10", "cpu")
    assert not channels_last_for("cifar10-jpeg", "cuda")

