"""Each chapter's lite protocol and its deviations from the paper are read from the configs the chapter plans, and
the lite plans keep what issue-level claims rest on: converged parents, the progression, shared baselines."""
import dataclasses
from pathlib import Path

import pytest

from qrepro.chapters import CHAPTERS, apot, parents
from qrepro.report import lite
from qrepro.report.protocol import deviations, protocol

LITE_CHAPTERS = [name for name, chapter in CHAPTERS.items()
                 if "lite" in chapter.Params.SETTINGS and name != "scoreboard"]
BOOK = Path(__file__).resolve().parents[1] / "book"


def rows(table):
    return {(r.aspect, r.paper, r.lite) for r in table.itertuples()}


def test_every_paper_chapter_has_a_lite_profile():
    assert set(LITE_CHAPTERS) == {"apot", "sq", "pdqat", "gpfq"}


@pytest.mark.parametrize("name", LITE_CHAPTERS)
def test_every_quantized_lite_run_descends_from_a_converged_parent_of_its_own_architecture(name):
    for planned in CHAPTERS[name].plan(lite.params(name)):
        chain, config = [], planned.config
        while config is not None:
            chain.append(config)
            config = getattr(config, "init", None) or getattr(config, "model", None)
        first = chain[-1]  # trained from scratch: the first cosine cycle of the converged parent
        parent = chain[-len(parents.cycles(first.arch))]
        assert parent == parents.converged(first.arch, first.arch_options, first.data, first.seed), chain[0].run_id
        assert planned.config.arch == first.arch


@pytest.mark.parametrize("name", LITE_CHAPTERS)
def test_the_deviations_name_the_data_set_and_the_converged_starting_point(name):
    table = deviations(lite.params(name))
    assert "data set" in set(table["aspect"])
    starts = table[table["aspect"] == "starts from"]["lite"]
    cycles = {" + ".join(map(str, parents.cycles(p.config.arch))) for p in CHAPTERS[name].plan(lite.params(name))}
    assert all(any(f"{epochs} epochs" in value for value in starts) for epochs in cycles), (cycles, list(starts))


def test_the_deviations_follow_the_configs(monkeypatch):
    assert ("epochs", "300", "15") in rows(deviations(lite.params("apot")))
    assert ("model", "resnet20 (shortcut B)", "resnet20") in rows(deviations(lite.params("apot")))
    monkeypatch.setitem(apot.SETTINGS, "lite", dataclasses.replace(apot.SETTINGS["lite"], stage_epochs=9))
    changed = rows(deviations(lite.params("apot")))
    assert ("epochs", "300", "9") in changed and ("epochs", "300", "15") not in changed
    assert set(protocol(lite.params("apot"))["epochs"]) == {"20 + 60", "9"}


def test_apot_2_bits_descend_from_3_bits_and_pdqat_shares_model_and_schedule_with_its_baseline():
    by_bits = {p.config.bits: p.config for p in apot.plan(lite.params("apot"))}
    assert by_bits[2].init == by_bits[3] and by_bits[3].init == by_bits[4]
    table = [p for p in CHAPTERS["pdqat"].plan(lite.params("pdqat")) if p.part == "table" and p.config.bits != 32]
    for bits in {p.config.bits for p in table}:
        runs = [p.config for p in table if p.config.bits == bits]
        assert {p.method for p in runs} == {"dorefa", "pdqat"}
        assert len({(c.arch, c.arch_options["width"], repr(c.schedule), c.init.run_id, c.seed) for c in runs}) == 3


@pytest.mark.parametrize("name", LITE_CHAPTERS)
def test_each_page_shows_its_lite_evidence_with_the_generated_protocol_before_anything_else(name):
    text = (BOOK / f"{name}.py").read_text()
    assert f'lite_report.evidence("{name}"' in text
    assert "lite_report.deviations_table(lite)" in text and "lite_report.protocol_table(lite)" in text
    first_section = text.index("\n# ## ")
    assert text.index("On CIFAR-10 images") == first_section + len("\n# ## ")


def test_a_page_reads_the_records_that_exist_and_trains_nothing(runs_root, monkeypatch):
    from qrepro.chapters import apot as apot_chapter
    from qrepro.runs import complete, get_or_run, recorded_chapter

    params = apot_chapter.Params(profile="smoke", bit="4", epochs=1)
    shown = recorded_chapter(params)
    assert shown.records == [] and [p.config.bits for p in shown.planned] == [32, 4]
    assert complete(shown.planned, shown.records) == []
    get_or_run(shown.planned[0].config, device="cpu", progress=False)  # the full-precision stage only
    shown = recorded_chapter(params)
    assert [r["config"]["bits"] for r in shown.records] == [32]
    assert [p.config.bits for p in complete(shown.planned, shown.records)] == [32]
    assert not (runs_root / "apot" / shown.planned[1].config.run_id).exists()
    assert "data set `digits`: 1 of 2 runs recorded" in lite.status(shown).replace("**", "")
    path = runs_root / "apot" / shown.planned[0].config.run_id / "record.json"
    path.write_text(path.read_text().replace('"top1": ', '"top1": 1', 1))  # an edited number
    shown = recorded_chapter(params)
    assert shown.records == [] and "is invalid" in shown.invalid[0]
    assert "Invalid record, not shown" in lite.status(shown)


def test_the_verdict_table_collects_every_chapters_headline_rows(runs_root):
    """Smoke runs stand in for lite ones (the same code path, records of another profile and data set)."""
    from qrepro.chapters import gpfq as gpfq_chapter
    from qrepro.report import apot as apot_report
    from qrepro.report import gpfq as gpfq_report
    from qrepro.report import verdicts
    from qrepro.runs import recorded_chapter, run_chapter

    apot_shown = run_chapter(apot.Params(profile="smoke", bit="2", epochs=1), device="cpu")
    rows = apot_report.headline(apot_shown)
    assert list(rows["row"]) == ["APoT, 4-bit weights and activations", "APoT, 3-bit weights and activations",
                                 "APoT, 2-bit weights and activations"]
    assert set(rows["verdict"]) == {"n/a: digits is not cifar10"} and set(rows["seeds"]) == {1}
    answer = verdicts.answer("apot", apot_shown).splitlines()  # the page's answer says what these rows say, no more
    assert "(smoke, digits; 1 seed a row, 1 planned)" in answer[0]
    assert answer[2:] == [f"- {r.row}: ours {r.drop:+.2f}, paper {r.reference_drop:+.2f}: n/a: digits is not cifar10."
                          for r in rows.itertuples()]
    empty = apot.Params(profile="smoke", bit="2", epochs=2)  # nothing recorded at 2 epochs
    assert "no headline row has a record yet" in verdicts.answer("apot", recorded_chapter(empty))
    gpfq_shown = run_chapter(gpfq_chapter.Params(profile="smoke", bits=2, sweeps="none", epochs=1), device="cpu")
    rows = gpfq_report.headline(gpfq_shown)
    assert list(rows["row"]) == ["GPFQ, 2-bit weights"] and list(rows["reference"]) == ["seed"]
    rows = verdicts.with_costs(rows.assign(chapter="gpfq"), gpfq_shown.records)
    quantized = next(r for r in gpfq_shown.records if r["run_id"] == rows["run_ids"][0][0])
    assert rows["hours"][0] == quantized["wall_time_s"] / 3600  # a post-training run: its own time only
    table = verdicts.verdict_table(rows).data
    assert "GPFQ, 2-bit weights" in set(table["row"])
    assert set(table[table["row"] == "no lite record yet"]["chapter"].str.extract(r">(\w+)<")[0]) == {
        "apot", "pdqat", "sq"}


def test_the_converged_parents_curves_join_all_their_cycles_and_say_whether_they_still_rose():
    from qrepro.report.parents import BAR, LAST, parent_curves, parent_summary, parent_table

    curves = parent_curves()  # the committed records: ResNet-20 seed 0 at least
    seed0 = curves[(curves.arch == "resnet20") & (curves.seed == 0)]
    assert list(seed0.epoch) == list(range(1, sum(parents.cycles("resnet20")) + 1))
    row = parent_table(curves).set_index(["arch", "seed"]).loc[("resnet20", 0)]
    assert row["top-1 (%)"] == seed0.test_top1.iloc[-1] and row[f"≥ {BAR} %"] == (row["top-1 (%)"] >= BAR)
    gain = round(seed0.test_top1.iloc[-1] - seed0.test_top1.iloc[-LAST - 1], 2)
    assert row[f"gain over the last {LAST} epochs"] == gain
    table = parent_table(curves)
    summary = parent_summary(table).set_index("arch").loc["resnet20"]
    ours = table[table.arch == "resnet20"]["top-1 (%)"]
    assert summary["n"] == len(ours) and summary[f"mean ≥ {BAR} %"] == (ours.mean() >= BAR)
    assert summary["mean top-1 (%)"].startswith(f"{ours.mean():.2f}")


def test_each_parent_cycle_says_what_it_added_over_the_one_before_paired_by_seed():
    import pandas as pd

    from qrepro.report.parents import cycle_gains

    ends = pd.DataFrame({"arch": ["m"] * 5, "seed": [0, 0, 1, 1, 0], "cycle": [1, 2, 1, 2, 3],
                         "epochs": [20, 60, 20, 60, 60], "top1": [85.0, 88.0, 86.0, 88.5, 88.25]})
    gains = cycle_gains(ends).set_index("cycle")
    assert gains.loc[1, "gain over the cycle before (points)"] == ""
    assert gains.loc[2, "gain over the cycle before (points)"] == "+2.75 ± 0.35"  # +3.0 and +2.5, paired by seed
    assert gains.loc[3, "gain over the cycle before (points)"] == "+0.25"  # seed 1 has no third cycle: n = 1
    assert gains.loc[3, "seeds"] == "0" and gains.loc[2, "mean top-1 at its end (%)"] == 88.25
