"""SQ: errors, selection probabilities, roulette without replacement, the hybrid quantizer, stage chains, chapter."""
import copy
import dataclasses
import itertools
import math

import pytest
import torch
from helpers import assert_run_links_resolve, epoch_metrics, killed_and_resumed, run_chapter, table_output

from qrepro.report.tables import VERDICT
from qrepro import models
from qrepro.chapters import sq as sq_chapter
from qrepro.methods import get_method, sq
from qrepro.cli import main
from qrepro.config import TrainConfig
from qrepro.data import load as load_data
from qrepro.data.loader import DeviceLoader
from qrepro.nn import quantized_layers
from qrepro.quantizers import BWN, TTQ, bwn
from qrepro.runs import get_or_run, recorded
from qrepro.runs.build import prepared_model

ERRORS = torch.tensor([0.1, 0.2, 0.4, 0.5], dtype=torch.float64)


def test_unit_errors_per_filter_element_and_layer():
    w = torch.tensor([[1.0, -3.0], [2.0, 2.0]])
    q = torch.tensor([[2.0, -2.0], [2.0, 2.0]])
    assert sq.unit_errors(w, q, "filter").tolist() == [2 / 4, 0.0]
    assert sq.unit_errors(w, q, "element").tolist() == pytest.approx([1.0, 1 / 3, 0.0, 0.0])
    assert sq.unit_errors(w, q, "layer").tolist() == [2 / 8]


@pytest.mark.parametrize("prob, f", [
    ("constant", lambda x: 1.0), ("linear", lambda x: x), ("softmax", math.exp),
    ("sigmoid", lambda x: 1 / (1 + math.exp(-x))),
])
@pytest.mark.parametrize("select", ["quantized", "full_precision"])
def test_selection_probabilities_follow_each_function(prob, f, select):
    """p_i = f(x_i) / sum_j f(x_j), x = 1/e + 1e-7 (paper) or x = e (official code and seed); sigmoid normalized."""
    xs = [1 / e + 1e-7 if select == "quantized" else e for e in ERRORS.tolist()]
    expected = [f(x) / sum(f(v) for v in xs) for x in xs]
    assert sq.selection_probabilities(ERRORS, prob, select).tolist() == pytest.approx(expected, rel=1e-9)


def test_the_paper_favours_small_errors_for_quantization_and_the_official_code_large_ones_for_fp():
    paper = sq.selection_probabilities(ERRORS, "linear", "quantized")
    official = sq.selection_probabilities(ERRORS, "linear", "full_precision")
    assert paper.argsort().tolist() == [3, 2, 1, 0] and official.argsort().tolist() == [0, 1, 2, 3]


def test_roulette_draws_exactly_k_and_a_fixed_seed_reproduces_it():
    log_w = sq.log_weights(torch.rand(50, dtype=torch.float64), "linear")
    draws = [sq.roulette(log_w, 17, torch.Generator().manual_seed(s)) for s in (3, 3, 4)]
    assert all(int(d.sum()) == 17 for d in draws)
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    assert not sq.roulette(log_w, 0).any() and sq.roulette(log_w, 50).all()


def _sequential_inclusion(p: list[float], k: int) -> list[float]:
    """Exact inclusion probabilities of the sequential roulette (draw with p / sum p, remove, repeat)."""
    inclusion = [0.0] * len(p)
    for order in itertools.permutations(range(len(p)), k):
        chance, left = 1.0, 1.0
        for i in order:
            chance *= p[i] / left
            left -= p[i]
        for i in order:
            inclusion[i] += chance
    return inclusion


@pytest.mark.parametrize("k", [1, 2, 3])
def test_roulette_without_replacement_has_the_sequential_wheel_distribution(k):
    p = sq.selection_probabilities(ERRORS, "linear").tolist()
    log_w = sq.log_weights(ERRORS, "linear")
    generator = torch.Generator().manual_seed(k)
    n = 20000
    counts = sum(sq.roulette(log_w, k, generator).double() for _ in range(n))
    expected = _sequential_inclusion(p, k)
    for got, want in zip((counts / n).tolist(), expected):
        assert got == pytest.approx(want, abs=4.5 * math.sqrt(want * (1 - want) / n) + 1e-3)


def test_zero_probability_units_are_drawn_only_when_nothing_else_is_left():
    log_w = torch.tensor([0.0, -math.inf, 0.0, -math.inf])
    for seed in range(20):
        assert sq.roulette(log_w, 2, torch.Generator().manual_seed(seed)).tolist() == [True, False, True, False]


@pytest.mark.parametrize("select", ["quantized", "full_precision"])
@pytest.mark.parametrize("granularity, units", [("filter", 64), ("element", 64 * 27)])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.75, 0.875])
def test_sq_quantizes_exactly_the_selected_share_and_leaves_the_rest_bit_identical(ratio, granularity, units, select):
    torch.manual_seed(0)
    w = torch.randn(64, 3, 3, 3)
    quantizer = sq.SQWeight(BWN(), ratio, granularity=granularity, prob="linear", select=select).train()
    out = quantizer(w)
    mask = quantizer.mask
    expected = math.floor(ratio * units) if select == "quantized" else units - math.floor((1 - ratio) * units)
    assert int(mask.sum()) == expected
    assert abs(int(mask.sum()) - ratio * units) <= 1  # within one unit of granularity
    full = sq.expand_units(mask, w, granularity)
    assert torch.equal(out[full], bwn(w)[full])
    assert torch.equal(out[~full], w[~full])


def test_sq_in_eval_mode_quantizes_everything_and_at_ratio_one_equals_the_base():
    torch.manual_seed(1)
    w = torch.randn(16, 8)
    quantizer = sq.SQWeight(BWN(), 0.5)
    assert torch.equal(quantizer.eval()(w), bwn(w))
    assert torch.equal(sq.SQWeight(BWN(), 1.0).train()(w), bwn(w))


def batchnorm_statistics(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
            for t in (m.running_mean, m.running_var)]


@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_a_hybrid_stage_evaluates_with_the_fully_quantized_networks_batchnorm_statistics(ratio):
    """After an epoch at ratio < 1 the running statistics are recomputed over RECALIBRATION_BATCHES training batches
    with every unit quantized (not the hybrid network's), without moving the loader's shuffle; at ratio 1 kept."""
    config = sq_chapter.run_config("bwn", {"ratio": ratio}, "resnet20", "smoke", "digits", 1, 0)
    data = load_data("digits")
    torch.manual_seed(0)
    model = prepared_model(config, data).train()
    loader = DeviceLoader(data, "train", 32, seed=0)
    before = batchnorm_statistics(model)

    def statistics_of_a_pass(fully_quantized: bool) -> list[torch.Tensor]:
        reference = copy.deepcopy(model)
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
            if isinstance(m, sq.SQWeight) and fully_quantized:
                m.eval()
        with torch.no_grad():
            for x, _ in itertools.islice(copy.copy(loader), sq.RECALIBRATION_BATCHES):
                reference(x)
        return batchnorm_statistics(reference)

    quantized, hybrid = statistics_of_a_pass(True), statistics_of_a_pass(False)
    get_method("bwn").objective(model, config).end_epoch(model, loader, 0)
    after = batchnorm_statistics(model)
    assert loader.epoch == 0 and model.training
    if ratio < 1:
        assert all(torch.allclose(a, q, atol=1e-6) for a, q in zip(after, quantized))
        assert not all(torch.allclose(a, h, atol=1e-3) for a, h in zip(after, hybrid))
    else:
        assert all(torch.equal(a, b) for a, b in zip(after, before))


def test_sq_selection_is_reproducible_from_the_global_seed():
    w = torch.randn(32, 4, 3, 3)
    quantizer = sq.SQWeight(BWN(), 0.5, prob="softmax").train()
    masks = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        quantizer(w)
        masks.append(quantizer.mask.clone())
    assert torch.equal(masks[0], masks[1]) and not torch.equal(masks[0], masks[2])


def test_sq_favours_low_error_filters_for_quantization():
    """Filters whose weights are all +-1 have error 0 under BWN; with the paper's linear function they are
    quantized far more often than noisy ones."""
    torch.manual_seed(2)
    w = torch.randn(20, 30)
    w[:10] = torch.randint(0, 2, (10, 30)).float() * 2 - 1 + 1e-3 * torch.randn(10, 30)  # near +-1
    quantizer = sq.SQWeight(BWN(), 0.5).train()
    counts = torch.zeros(20)
    for _ in range(200):
        quantizer(w)
        counts += quantizer.mask
    assert counts[:10].min() > counts[10:].max()


def test_sq_gradients_quantized_units_get_the_base_gradient_fp_units_the_plain_one():
    torch.manual_seed(3)
    w = torch.randn(10, 6, requires_grad=True)
    base = TTQ(threshold=0.05)
    with torch.no_grad():
        base.positive_scale.fill_(2.0)
        base.negative_scale.fill_(3.0)
    quantizer = sq.SQWeight(base, 0.5).train()
    out = quantizer(w)
    g = torch.randn(10, 6)
    out.backward(g)
    mask = quantizer.mask
    delta = base.delta(w)
    scale = torch.where(w > delta, 2.0, torch.where(w < -delta, 3.0, 1.0))
    assert torch.equal(w.grad[~mask], g[~mask])
    assert torch.allclose(w.grad[mask], (g * scale)[mask])
    assert base.positive_scale.grad.item() == pytest.approx((g * (w > delta))[mask].sum().item(), rel=1e-5)


def test_layer_granularity_draws_layers_jointly():
    model = models.create("lenet5", in_channels=1, image_size=8)
    options = {"ratio": 0.5, "granularity": "layer", "prob": "linear", "select": "quantized"}
    config = sq_chapter.run_config("bwn", options, "lenet5", "smoke", "digits", 1, 0)
    get_method("bwn").prepare(model, config)
    layers = sq.sq_layers(model)
    x = torch.randn(4, 1, 8, 8)
    with pytest.raises(RuntimeError, match="resample_layers"):
        model.train()(x)
    sq.resample_layers(model)
    assert sum(q.selected for _, q in layers.values()) == math.floor(0.5 * len(layers)) == 2
    for layer, q in layers.values():
        expected = bwn(layer.weight) if q.selected else layer.weight
        assert torch.equal(q(layer.weight), expected)


def test_forward_and_evaluation_never_overwrite_the_float_weights():
    """The seed's bug: its evaluation left quantized weights in place of the float ones."""
    torch.manual_seed(4)
    model = models.create("lenet5", in_channels=1, image_size=8)
    config = sq_chapter.run_config("twn", {"ratio": 0.75, "variant": "official"}, "lenet5", "smoke", "digits", 1, 0)
    get_method("twn").prepare(model, config)
    before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("weight")}
    x = torch.randn(8, 1, 8, 8)
    model.train()(x)
    model.eval()(x)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("ratios, match", [
    ("0.5,0.4", "strictly increasing"), ("0.5,0.5", "strictly increasing"), ("0,0.5", r"outside \(0, 1\]"),
    ("0.5,1.5", r"outside \(0, 1\]"), ("half", "not a float"), ("", "not a float"),
])
def test_bad_ratios_are_refused(ratios, match):
    with pytest.raises(ValueError, match=match):
        sq_chapter.Params(ratios=ratios)


@pytest.mark.parametrize("name, value, valid", [
    ("prob", "cubic", "constant, linear, softmax, sigmoid"), ("granularity", "channel", "layer, filter, element"),
    ("select", "fp", "quantized, full_precision"), ("method", "xnor", "bwn, twn, ttq, inq, elq"),
    ("arch", "vgg16", "vgg9, resnet20"), ("twn", "caffe", "paper, official"), ("wn_grad", "tf", "paper, official"),
    ("threshold", 0.0, r"\(0, 1\)"), ("threshold", 1.0, r"\(0, 1\)"), ("inq_bits", 1, "2, 3"),
])
def test_unknown_choices_list_the_valid_ones(name, value, valid):
    with pytest.raises(ValueError, match=valid):
        sq_chapter.Params(**{name: value})


def test_bad_sq_options_in_a_config_or_quantizer_are_refused():
    with pytest.raises(ValueError, match="layer, filter, element"):
        sq.SQWeight(BWN(), 0.5, granularity="channel")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        sq.SQWeight(BWN(), 0.0)
    config = sq_chapter.run_config("ttq", {"threshold": 2.0}, "lenet5", "smoke", "digits", 1, 0)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        get_method("ttq").check(config)
    with pytest.raises(ValueError, match="need an SQ ratio"):
        get_method("bwn").check(dataclasses.replace(config, method="bwn", bits=1, options={"prob": "linear"}))


def test_cli_refuses_bad_sq_parameters(capsys):
    assert main(["run", "sq", "-p", "ratios", "0.75,0.5"]) == 2
    assert "strictly increasing" in capsys.readouterr().err
    assert main(["run", "sq", "-p", "prob", "cubic"]) == 2
    assert "constant, linear, softmax, sigmoid" in capsys.readouterr().err


def test_stages_chain_from_scratch_through_each_ratio(runs_root):
    stages = sq_chapter.stage_chain("bwn", {}, {"granularity": "filter", "prob": "linear", "select": "quantized"},
                            (0.5, 1.0), "lenet5", "smoke", "digits", 2, 0)
    records = [get_or_run(c, progress=False) for c in stages]
    assert stages[0].init is None and records[1]["init"]["from"] == records[0]["run_id"]
    assert records[1]["init"]["added_keys"] == []
    assert [r["config"]["options"]["ratio"] for r in records] == [0.5, 1.0]
    assert records[1]["top1"] > 30  # 10 % is chance
    assert set(records[1]["summary"]["layers"]) == set(quantized_layers(_prepared(stages[1])))  # every layer


def _prepared(config: TrainConfig):
    model = models.create(config.arch, in_channels=1, image_size=8)
    get_method(config.method).prepare(model, config)
    return model


@pytest.mark.slow
def test_killed_sq_run_resumes_to_the_same_record(runs_root, monkeypatch):
    """The partition is re-drawn at every step from the global RNG, which the checkpoint carries."""
    options = {"ratio": 0.5, "granularity": "filter", "prob": "softmax", "select": "full_precision"}
    config = sq_chapter.run_config("bwn", options, "lenet5", "smoke", "digits", 3, 0)
    uninterrupted = get_or_run(config, progress=False)
    resumed = killed_and_resumed(dataclasses.replace(config, chapter="t2"), monkeypatch, after_epochs=2)
    assert epoch_metrics(resumed) == epoch_metrics(uninterrupted)


def test_paper_vs_ours_gives_verdicts_on_the_papers_drops_and_shows_the_seeds_beside_them():
    import pandas as pd

    from qrepro.report import paper_table
    from qrepro.report.sq import paper_vs_ours

    chains = [{"group": "table", "data_set": "cifar10-nocrop", "profile": "quick", "arch": "vgg9", "row": row,
               "variant": "", "seed": seed, "bits": bits, "top1": top1 + seed, "best_test_top1": top1, "options": {},
               "stale": False, "run_id": f"{row}-{seed}"}
              for row, bits, top1 in (("FWN", 32, 91.0), ("BWN", 1, 89.0), ("SQ-BWN", 1, 90.5), ("TTQ", 2, 88.0))
              for seed in (0, 1)]
    table = paper_vs_ours(pd.DataFrame(chains), paper_table("sq")).set_index("row")
    assert table.loc["BWN", "top-1 (%)"] == "89.50 ± 0.71" and table.loc["BWN", "seeds"] == 2
    assert table.loc["BWN", "paper drop"] == "+1.67" and table.loc["BWN", "drop − paper drop"] == "+0.33"
    assert table.loc["BWN", VERDICT] == "on quick: holds (n=2)"
    assert table.loc["SQ-BWN", VERDICT] == "on quick: holds (n=2)"  # 0.50 against the paper's 0.13
    assert table.loc["TTQ", VERDICT] == "no paper number"  # the TTQ paper has no VGG-9 row
    assert table.loc["TTQ", "seed drop"] == "+10.88"  # 87.76 - 76.88, against the seed's own FWN
    assert table.loc["SQ-BWN", "run_ids"] == ["SQ-BWN-0", "SQ-BWN-1"]


def test_sq_is_set_beside_its_baselines_on_one_schedule_and_on_its_own_epochs():
    import pandas as pd

    from qrepro.report.sq import compute_matched

    chains = [{"group": "table", "data_set": "cifar10-jpeg", "profile": "lite", "arch": "resnet20", "row": row,
               "top1": top1 + seed} for row, top1, seeds in (("FWN", 88.0, 2), ("BWN", 81.0, 2), ("SQ-BWN", 82.0, 2),
                                                               ("BWN (SQ's epochs)", 84.0, 1), ("TWN", 85.0, 1))
              for seed in range(seeds)]
    table = compute_matched(pd.DataFrame(chains))
    assert list(table["quantizer"]) == ["BWN"]  # TWN has no SQ chain yet
    row = table.iloc[0]
    assert row["SQ top-1 (n)"] == "82.50 ± 0.71 (2)" and row["baseline, SQ's epochs (n)"] == "84.00 (1)"
    assert row["SQ's gain over one schedule"] == "+1.00" and row["SQ's gain at equal epochs"] == "-1.50"


@pytest.mark.slow
def test_chapter_runs_under_papermill_and_its_tables_have_every_row(runs_root, tmp_path):
    """Every row for a small network (the book build runs VGG-9 and ResNet-20 with the same code)."""
    # TTQ with the paper's W_n gradient sign drives LeNet-5's classifier scales to NaN here (a diverged run is an
    # error since records are strict): the official sign keeps this small network finite
    notebook = run_chapter("sq", tmp_path, profile="smoke", arch="lenet5", study_arch="lenet5", ratios="0.5,1",
                           wn_grad="official")
    rows = table_output(notebook, "sq_report.paper_vs_ours(frame, reference)")
    assert [r["row"] for r in rows] == list(sq_chapter.ROWS)
    assert all(r["data_set"] == "digits" and r["profile"] == "smoke" and r["arch"] == "lenet5" for r in rows)
    assert all(float(r["top-1 (%)"]) > 0 for r in rows)
    assert all(r[VERDICT] == "n/a: digits is not cifar10" for r in rows)
    probs = table_output(notebook, 'sq_report.comparison(frame, "prob", reference)')
    assert [r["prob"] for r in probs] == list(sq.PROBS)
    granularities = table_output(notebook, 'sq_report.comparison(frame, "granularity", reference)')
    assert [r["granularity"] for r in granularities] == list(sq.GRANULARITIES)
    final = {r["run_id"] for r in recorded("sq") if r["config"]["options"].get("ratio") == 1.0}
    assert len(final) == 3 + 3 + 2  # SQ-BWN/TWN/TTQ, the other probability functions, the other granularities
    linked = assert_run_links_resolve(notebook)
    assert final <= linked  # every row's number links to the run that made it
