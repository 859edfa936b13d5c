"""What each chapter page says of its lite protocol in prose is what its lite configs run: each test quotes the
page's sentence (so that editing one without the other fails here) and checks the configs behind it."""
from pathlib import Path

from qrepro.chapters import CHAPTERS, apot
from qrepro.methods.pdqat import paper_epsilon
from qrepro.report import lite
from qrepro.runs.shard import lineage

BOOK = Path(__file__).resolve().parents[1] / "book"


def page(name: str) -> str:
    """The page's prose as one line of text (the .py file's comment lines joined, runs of spaces as one)."""
    return " ".join(" ".join(line.removeprefix("#").split()) for line in (BOOK / f"{name}.py").read_text().splitlines())


def lite_configs(name: str, **values):
    return [p.config for p in CHAPTERS[name].plan(lite.params(name, **values))]


def test_apot_page_progressive_4_3_2_with_the_official_stage_hyper_parameters():
    assert "progressive 4 → 3 → 2 bits, the official per-stage learning rates, weight decays and clipping-value " \
           "groups" in page("apot")
    for config in lite_configs("apot"):
        if config.bits == 32:
            continue
        assert [c.bits for c in lineage(config)][-2:] == [apot.PARENT[config.bits], config.bits]
        lr, weight_decay = apot.STAGE_HPARAMS[config.bits]
        assert (config.schedule.lr, config.schedule.weight_decay) == (lr, weight_decay)
        assert config.schedule.group_overrides  # the clipping values' own groups


def test_sq_page_full_stage_schedules_and_compute_matched_baselines():
    text = page("sq")
    assert "An SQ row trains one full stage schedule per SQ ratio, its learning rate restarted each time; the " \
           "\"(SQ's epochs)\" rows give BWN and TWN that many epochs in one schedule" in text
    chains = {(c.row, c.seed): c for c in CHAPTERS["sq"].plan(lite.params("sq")) if c.group == "table"}
    for base in ("BWN", "TWN"):
        plain = chains[(base, 0)].runs[-1].schedule
        sq = chains[(f"SQ-{base}", 0)].runs
        matched = chains[(f"{base} (SQ's epochs)", 0)].runs[-1].schedule
        assert len(sq) == 4 and all(run.schedule == plain for run in sq)  # each stage a full, restarted schedule
        assert matched.epochs == 4 * plain.epochs


def test_pdqat_page_official_recipe_same_model_and_schedule_paper_levels():
    text = page("pdqat")
    assert "(Adam, lr 1e-3, dual lr 0.01, 10 % of the training split held out)" in text
    assert "width 1" in text and "every 2- and 4-bit run starts from it" in text
    assert "The constraint levels are the paper's (Table 1)" in text
    assert "The paper's model is five times wider (80/160/320 channels against 16/32/64 here" in text
    paper = [p.config for p in CHAPTERS["pdqat"].plan(CHAPTERS["pdqat"].params(profile="paper"))]
    assert {c.arch_options["width"] for c in paper if c.arch == "preact_resnet20"} == {5}
    table = [p.config for p in CHAPTERS["pdqat"].plan(lite.params("pdqat")) if p.part == "table"]
    quantized = [c for c in table if c.bits != 32]
    assert sorted({c.bits for c in quantized}) == [2, 4]
    for config in table:
        assert (config.schedule.optimizer, config.schedule.lr) == ("adam", 1e-3)
        assert config.options["validation"] == 0.1 and config.arch_options["width"] == 1
    for config in quantized:
        assert config.init == next(c for c in table if c.bits == 32 and c.seed == config.seed)
        if config.method == "pdqat":
            assert config.options["dual_lr"] == 0.01 and config.options["epsilon"] == paper_epsilon(config.bits)


def test_gpfq_page_calibration_bits_and_scalars():
    assert "256 calibration images per layer, the bit-widths 1 to 8 and (seed 0) the alphabet scalar $C$ from " \
           "1.00 to 2.00" in page("gpfq")
    runs = [c for c in lite_configs("gpfq", sweeps="bits,scalar") if c.kind == "ptq"]
    assert {c.calibration for c in runs if c.method == "gpfq"} == {256}
    assert sorted({c.bits for c in runs}) == list(range(1, 9))
    scalars = {c.options["scalar"] for c in runs if c.seed == 0}
    assert min(scalars) == 1.0 and max(scalars) == 2.0
    assert {c.options["scalar"] for c in runs if c.seed > 0} == {1.16}  # the other seeds: the headline scalar only


def test_sq_page_inq_at_its_paper_bits_and_elq_recalibrated_after_its_final_freeze():
    assert "INQ runs at `inq_bits` (default 5, the INQ paper's headline; the seed used 3)" in page("sq")
    assert "ours recomputes the BatchNorm statistics for the frozen weights first" in page("sq")
    chains = {c.row: c.runs for c in CHAPTERS["sq"].plan(lite.params("sq")) if c.group == "table" and c.seed == 0}
    assert {run.bits for run in chains["INQ"]} == {5}
    assert [bool(run.options.get("recalibrate")) for run in chains["ELQ"]] == [False] * 6 + [True]
