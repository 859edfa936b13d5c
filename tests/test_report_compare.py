"""The paper-vs-ours pipeline (report.compare) on hand-made runs: mean ± std over seeds, our drop against our own
full-precision runs, the reference's drop against its own, the verdict and the cells every chapter shows."""
import pandas as pd
import pytest

from qrepro.report.compare import (
    BASELINE,
    cells,
    compare,
    drop_cells,
    over_seeds,
    provenance_cells,
    published_drops,
    versus,
    versus_cells,
)


def runs(rows):
    return pd.DataFrame([{"data_set": data_set, "profile": "quick", "arch": "resnet20", "method": method, "bits": bits,
                          "seed": seed, "top1": top1, "stale": seed == 1, "run_id": f"{data_set}-{method}-{seed}"}
                         for data_set, method, bits, seed, top1 in rows])


RUNS = runs([("cifar10", "fp", 32, 0, 92.0), ("cifar10", "fp", 32, 1, 94.0),
             ("cifar10", "q", 2, 0, 90.0), ("cifar10", "q", 2, 1, 92.0), ("digits", "q", 2, 0, 97.0)])
KEYS = ["data_set", "profile", "arch", "method", "bits"]


def test_over_seeds_gives_the_sample_std_the_seeds_and_the_runs_of_each_key():
    table = over_seeds(RUNS, KEYS).set_index(["data_set", "method"])
    q = table.loc[("cifar10", "q")]
    assert q["top1_mean"] == 91.0 and q["top1_std"] == pytest.approx(2 ** 0.5)  # ddof = 1
    assert q["seeds"] == 2 and q["stale"] and q["run_ids"] == ["cifar10-q-0", "cifar10-q-1"]
    assert pd.isna(table.loc[("digits", "q"), "top1_std"])  # one seed: no std


def test_the_drop_is_against_our_full_precision_runs_of_the_same_data_set_profile_and_arch():
    table = compare(RUNS, KEYS, RUNS[RUNS["bits"] == 32]).set_index(["data_set", "method"])
    assert table.loc[("cifar10", "q"), "drop"] == 2.0  # 93 - 91
    assert table.loc[("cifar10", "fp"), "drop"] == 0.0
    assert pd.isna(table.loc[("digits", "q"), "drop"])  # no full-precision run on digits
    assert drop_cells(table.reset_index()) == ["+0.00", "+2.00", "no FP record"]


def test_a_post_training_run_s_drop_is_against_the_model_it_quantized():
    ptq = RUNS[RUNS["bits"] == 2].assign(original_top1=[93.0, 95.0, 98.0])
    table = compare(ptq, KEYS, "original_top1", metrics=("top1", "original_top1"))
    assert list(table["drop"]) == [3.0, 1.0]  # 94 - 91, 98 - 97


def test_the_reference_drop_is_against_its_own_full_precision_number_and_gets_a_verdict():
    paper = pd.DataFrame({"arch": "resnet20", "bits": [32, 2, 4], "top1": [91.6, 91.0, 92.0]})
    reference = published_drops(paper, ["arch"], paper["bits"] == 32)
    assert list(reference["paper_drop"]) == pytest.approx([0.0, 0.6, -0.4])
    table = compare(RUNS, KEYS, RUNS[RUNS["bits"] == 32],
                    reference=reference[["arch", "bits", "paper_top1", "paper_drop"]])
    # our drop 2.0 with sd sqrt(2 + 2) = 2 over two seeds: the paper's 0.6 lies within 2.0 ± (2 * 2 + 1)
    assert list(table["verdict"]) == [BASELINE, "on quick: holds (n=2)", "n/a: digits is not cifar10"]
    assert table["drop_minus_paper"][1] == pytest.approx(1.4) and table["drop_sd"][1] == pytest.approx(2.0)
    shown = versus_cells(table)
    assert shown["paper drop"] == ["+0.00", "+0.60", "+0.60"] and shown["drop − paper drop"][1] == "+1.40"


def test_a_row_without_a_reference_row_says_so_and_two_reference_rows_for_one_row_are_refused():
    table = compare(RUNS, KEYS, RUNS[RUNS["bits"] == 32])
    seed = pd.DataFrame({"method": ["q"], "bits": [4], "seed_top1": [90.0], "seed_drop": [1.0]})
    compared = versus(table, seed, "seed")
    assert list(compared["verdict"])[:2] == [BASELINE, "no seed number"]
    assert list(versus_cells(compared, "seed", "seed (CIFAR-10)")) == [
        "seed (CIFAR-10) drop", "drop − seed drop", "verdict (±2 sd + 1)"]
    with pytest.raises(pd.errors.MergeError):
        versus(table, pd.concat([seed, seed.assign(bits=2), seed.assign(bits=2)]), "seed")


def test_the_verdict_allows_two_standard_deviations_of_our_drop_and_the_tolerance_and_names_its_scope():
    from qrepro.report.tables import verdict

    assert verdict(1.4, "cifar10-jpeg", spread=0.0, seeds=3, profile="lite") == "on lite: larger drop than the paper"
    assert verdict(1.4, "cifar10-jpeg", spread=0.25, seeds=3, profile="lite") == "on lite: holds"  # 1.4 <= 0.5 + 1
    assert verdict(-1.6, "cifar10-jpeg", spread=0.25, seeds=4, profile="lite") == "on lite: smaller drop than the paper"
    assert verdict(0.3, "cifar10-jpeg", spread=float("nan"), seeds=1, profile="lite") == "on lite: holds (n=1)"
    assert verdict(0.3, "digits", seeds=3, profile="smoke") == "n/a: digits is not cifar10"


def test_cells_show_mean_and_std_from_two_seeds_on_and_the_runs_of_each_row():
    table = over_seeds(RUNS, KEYS)
    assert cells(table, "top1") == ["93.00 ± 1.41", "91.00 ± 1.41", "97.00"]
    assert cells(table, "top1", std=False, signed=True) == ["+93.00", "+91.00", "+97.00"]
    provenance = provenance_cells(table)
    assert provenance["top-1 per seed"] == ["0: 92.00; 1: 94.00", "0: 90.00; 1: 92.00", "0: 97.00"]
    assert provenance["made by"][0] == "OLDER CODE: re-run to refresh"  # seed 1 is stale here
    assert provenance["run_ids"][2] == ["digits-q-0"]


def test_a_row_is_measured_against_the_full_precision_models_of_its_own_seeds():
    from qrepro.report.compare import compare

    fp = pd.DataFrame({"data_set": "d", "profile": "p", "arch": "a", "bits": 32, "seed": [0, 1, 2],
                       "top1": [90.0, 88.0, 86.0], "run_id": ["f0", "f1", "f2"]})
    quantized = pd.DataFrame({"data_set": "d", "profile": "p", "arch": "a", "bits": 4, "seed": [0],
                              "top1": [89.0], "run_id": ["q0"]})
    table = compare(quantized, ["data_set", "profile", "arch", "bits"], fp, by=["data_set", "profile", "arch"])
    assert table["drop"].tolist() == [1.0]  # seed 0's 90.0, not the three seeds' mean 88.0
    assert table["drop_sd"].isna().tolist() == [False] and table["drop_sd"].tolist() == [0.0]
