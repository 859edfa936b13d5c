"""PD-QAT: dual ascent, the official gradient handling, reduction to the baseline, mixed precision, bad input,
resumable runs and the chapter under papermill."""
import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_run_links_resolve, epoch_metrics, killed_and_resumed, run_chapter, table_output

from qrepro.report.tables import VERDICT
from qrepro import data as datasets
from qrepro.chapters import first_phase, pdqat
from qrepro.methods import get_method
from qrepro.methods.mixed_precision import body_layers, select_layers
from qrepro.methods.pdqat_constraints import dual_ascent, soft_cross_entropy
from qrepro.config import TrainConfig
from qrepro.data import DeviceLoader
from qrepro.models.preact_resnet import SwitchableBatchNorm2d, set_precision
from qrepro.nn import quantized_layers
from qrepro.runs import get_or_run, recorded
from qrepro.runs.build import DataShape, trainable
from qrepro.train import build_optimizer, train_step

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    full = datasets.load("digits")
    return dataclasses.replace(full, train_x=full.train_x[:256], train_y=full.train_y[:256])


def config(method: str, bits: int = 1, **options) -> TrainConfig:
    return pdqat.run_config(method, bits, options, arch="preact_resnet20", profile="smoke", data="digits", epochs=2,
                            seed=0)


def build(cfg: TrainConfig, seed: int = 0):
    """Model, method objective and optimizer as the runner builds them."""
    get_method(cfg.method).check(cfg)
    torch.manual_seed(seed)
    model, objective, _ = trainable(cfg, DataShape(in_channels=1, image_size=32, num_classes=10))
    return model, objective, build_optimizer(model, cfg.schedule)


def test_dual_ascent_solves_a_hand_made_problem():
    """min x^2 s.t. 1 - x <= 0: KKT point x* = 1, lambda* = 2; duals never negative."""
    x, dual = torch.tensor(3.0), torch.tensor([0.0])
    for _ in range(3000):
        x = x - 0.05 * (2 * x - dual[0])  # primal gradient step on x^2 + lambda (1 - x)
        dual = dual_ascent(dual, (1 - x).reshape(1), torch.zeros(1), lr=0.05)
        assert dual.item() >= 0
    assert x.item() == pytest.approx(1.0, abs=1e-3) and dual.item() == pytest.approx(2.0, abs=1e-2)


def test_duals_grow_while_violated_and_shrink_to_zero_while_slack(digits):
    cfg = config("pdqat", constraint="layerwise", epsilon=0.0, epsilon_layer=0.0, dual_lr=0.5)
    model, objective, _ = build(cfg)
    objective.epsilon = torch.full_like(objective.epsilon, -0.01)  # every constraint violated by at least 0.01
    loader = DeviceLoader(digits, "train", 64, seed=0)
    state, weights = loader.state_dict(), copy.deepcopy(model.state_dict())
    model.train()
    history = [objective.dual.clone()]
    for epoch in range(3):  # the model is fixed, so every step adds lr * (value - eps) > 0
        metrics = objective.end_epoch(model, loader, epoch)
        history.append(objective.dual.clone())
    steps = torch.stack(history).diff(dim=0)
    assert (steps > 0).all() and torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-6)
    values = metrics["layer_mse"] + [metrics["output_ce"]]
    assert steps[0].tolist() == pytest.approx([0.5 * (v + 0.01) for v in values])
    assert metrics["slack"] == pytest.approx([v + 0.01 for v in values])
    assert loader.state_dict() == state and model.training  # the dual step leaves the training stream as it was
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())  # and the model (eval mode)

    objective.epsilon = torch.full_like(objective.epsilon, 5.0)  # now every constraint is slack
    history = [objective.dual.clone()]
    for epoch in range(8):
        objective.end_epoch(model, loader, epoch)
        history.append(objective.dual.clone())
    duals = torch.stack(history)
    assert (duals >= 0).all() and (duals.diff(dim=0) <= 0).all()
    assert (duals[1] < duals[0]).all() and not duals[-1].any() and not duals[-2].any()  # shrank to 0, stayed


def run_steps(cfg: TrainConfig, digits, steps: int = 6):
    model, objective, optimizer = build(cfg)
    loader = DeviceLoader(digits, "train", 64, seed=0)
    losses, snapshots = [], []
    while len(losses) < steps:  # 4 batches per epoch
        for x, y in loader:
            loss, _ = train_step(model, objective, optimizer, x, y, torch.device("cpu"))
            losses.append(loss.item())
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
    return model, losses[:steps], snapshots[:steps]


def test_without_constraints_the_low_objective_is_the_baseline_step_for_step(digits):
    _, base_losses, base_states = run_steps(config("dorefa"), digits)
    model, pd_losses, pd_states = run_steps(config("pdqat", constraint="none", objective="low"), digits)
    assert pd_losses == base_losses  # exactly, every step
    for base, pd in zip(base_states, pd_states):
        assert all(torch.equal(value, pd[key]) for key, value in base.items())
    untouched = [bn.bns["32"] for bn in model.modules() if isinstance(bn, SwitchableBatchNorm2d)]
    assert all(bn.num_batches_tracked == 0 and bn.weight.grad is None for bn in untouched)
    _, official, _ = run_steps(config("pdqat", constraint="none", objective="high"), digits, steps=1)
    assert official != base_losses[:1]  # the official objective is another problem


def test_low_objective_with_a_zero_dual_has_the_baseline_gradients(digits):
    """objective=low back-propagates the b-bit cross-entropy with STE; a constraint with lambda = 0 adds nothing."""
    x, y = next(iter(DeviceLoader(digits, "train", 64, seed=0)))
    base, base_objective, _ = build(config("dorefa"))
    base_objective.loss(base, x, y)[0].backward()
    model, objective, _ = build(config("pdqat", constraint="output", epsilon=0.1, objective="low"))
    objective.dual = torch.zeros(1, dtype=torch.float64)
    objective.loss(model, x, y)[0].backward()
    grads = dict(model.named_parameters())
    for name, param in base.named_parameters():
        assert torch.allclose(param.grad, grads[name].grad, atol=1e-7), name
    assert model.get_parameter("blocks.0.conv0.weight").grad.abs().sum() > 0  # weights learn through the STE


def test_official_gradients_equal_a_deep_copy_whose_weight_gradients_are_discarded(digits):
    """objective=high: as train_pd_layers.py, only the b-bit BatchNorm learns from the b-bit branch."""
    cfg = config("pdqat", bits=2, constraint="output", epsilon=0.1)
    model, objective, _ = build(cfg)
    objective.dual = torch.tensor([0.7], dtype=torch.float64)
    reference = copy.deepcopy(model)
    x, y = next(iter(DeviceLoader(digits, "train", 64, seed=0)))
    model.train()
    reference.train()
    loss, _ = objective.loss(model, x, y)
    loss.backward()

    set_precision(reference, 32)
    out_full = reference(x)
    official = F.cross_entropy(out_full, y)
    set_precision(reference, 2)
    model_q = copy.deepcopy(reference)
    with torch.no_grad():
        reference(x)  # updates the b-bit BatchNorm statistics
    out_q = model_q(x)
    official = official + 0.7 * (soft_cross_entropy(out_q, F.softmax(out_full, dim=1)).mean() - 0.1)
    official.backward()
    for name, param in model_q.named_parameters():
        if ".bns.2." in name:
            reference.get_parameter(name).grad = param.grad

    assert loss.item() == pytest.approx(official.item(), rel=1e-6)
    for (name, mine), (_, theirs) in zip(model.named_parameters(), reference.named_parameters()):
        assert (mine.grad is None) == (theirs.grad is None), name
        if mine.grad is not None:
            assert torch.allclose(mine.grad, theirs.grad, atol=1e-6), name
    assert model.get_parameter("blocks.0.bn0.bns.2.weight").grad.abs().sum() > 0
    for (name, mine), theirs in zip(model.named_buffers(), reference.buffers()):
        assert torch.allclose(mine.float(), theirs.float()), name


class Wrapper(torch.nn.Module):
    """Holds the model under the attribute DistributedDataParallel ("module") or torch.compile ("_orig_mod") use,
    so its parameter names carry their prefix."""

    def __init__(self, model: torch.nn.Module, attribute: str):
        super().__init__()
        self.attribute = attribute
        setattr(self, attribute, model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.attribute)(x)


@pytest.mark.parametrize("attribute", ["module", "_orig_mod"])
def test_official_gradients_reach_the_low_precision_batchnorm_through_ddp_and_compile_wrappers(digits, attribute):
    cfg = config("pdqat", bits=2, constraint="output", epsilon=0.1)
    model, objective, _ = build(cfg)
    x, y = next(iter(DeviceLoader(digits, "train", 64, seed=0)))
    objective.loss(Wrapper(model, attribute), x, y)[0].backward()
    wrapped = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    objective.loss(model, x, y)[0].backward()
    plain = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert wrapped.keys() == plain.keys() and any(".bns.2." in name for name in plain)
    assert all(torch.allclose(wrapped[name], plain[name], atol=1e-6) for name in plain)


def layer_gradients(digits, targets: str, layer: str) -> dict[str, torch.Tensor]:
    """Gradients of one step of the layer-wise Lagrangian whose only non-zero dual is ``layer``'s."""
    cfg = config("pdqat", bits=2, constraint="layerwise", epsilon=0.1, epsilon_layer=0.01, layer_targets=targets)
    model, objective, _ = build(cfg)
    objective.dual = torch.tensor([float(name == layer) for name in objective.names], dtype=torch.float64)
    x, y = next(iter(DeviceLoader(digits, "train", 64, seed=0)))
    objective.loss(model, x, y)[0].backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("layer, detached", [("blocks.1.conv1", True), ("blocks.3.shortcut", True),
                                             ("blocks.1.conv0", False)])
def test_official_layer_targets_detach_the_low_side_of_conv1_and_shortcut_constraints_only(digits, layer, detached):
    official, attached = layer_gradients(digits, "official", layer), layer_gradients(digits, "attached", layer)
    assert official.keys() == attached.keys()
    differs = {name for name in official if not torch.allclose(official[name], attached[name], atol=1e-7)}
    assert bool(differs) == detached
    assert all(".bns.2." in name for name in differs)  # only the b-bit BatchNorm parameters: weights are the same


def test_layer_selection_by_duals():
    duals = [0.1, 0.5, 0.3, 0.5, 0.0, 0.2]
    assert select_layers(duals, 3, "largest") == [1, 3, 2]  # ties keep the lower index first
    assert select_layers(duals, 3, "smallest") == [4, 0, 5]
    assert select_layers(duals, 0, "largest") == []
    draws = [select_layers(duals, 2, "random", seed=s) for s in range(3000)]
    assert all(len(set(d)) == 2 for d in draws) and draws[:5] == [select_layers(duals, 2, "random", seed=s)
                                                                    for s in range(5)]
    frequency = torch.bincount(torch.tensor(draws).flatten(), minlength=6) / len(draws)
    assert torch.allclose(frequency, torch.full((6,), 2 / 6), atol=0.03)  # uniform over layers
    with pytest.raises(ValueError, match="largest, smallest, random"):
        select_layers(duals, 2, "median")
    with pytest.raises(ValueError, match="0..6"):
        select_layers(duals, 7, "largest")


def test_mixed_plan_ranks_layers_by_the_mean_final_duals():
    names = [f"layer{i}" for i in range(4)]

    def record(seed, duals):
        cfg = config("pdqat", constraint="layerwise", epsilon=0.9, epsilon_layer=0.0125)
        return {"config": dataclasses.replace(cfg, seed=seed).to_dict(),
                "summary": {"layers": names, "constraints": [*names, "output"]},
                "epochs": [{"dual": [9.0] * 5}, {"dual": [*duals, 1.0]}]}

    records = [record(0, [0.1, 0.0, 0.4, 0.2]), record(1, [0.3, 0.0, 0.0, 0.2])]
    assert pdqat.mean_layer_duals(records) == pytest.approx([0.2, 0.0, 0.2, 0.2])
    planned = pdqat.mixed_plan(records, counts="1,3", rules="largest,smallest")
    chosen = {(p.details["rule"], p.details["count"], p.config.seed): p.config.options["high_precision_layers"]
              for p in planned}
    assert chosen[("largest", 1, 0)] == [0] and chosen[("largest", 3, 1)] == [0, 2, 3]
    assert chosen[("smallest", 1, 0)] == [1] and chosen[("smallest", 3, 0)] == [0, 1, 2]
    assert all(p.config.method == "dorefa" and p.config.bits == 1 for p in planned)
    with pytest.raises(ValueError, match="layer-wise"):
        pdqat.mixed_plan([{**records[0], "config": config("dorefa").to_dict()}])
    assert [p.config.run_id for p in planned] == [  # as at commit 010c8c1: records are found by run id
        "smoke-preact_resnet20-dorefa-w1-f1eb26a5ea",
        "smoke-preact_resnet20-dorefa-w1-027d722667",
        "smoke-preact_resnet20-dorefa-w1-7c363facaf",
        "smoke-preact_resnet20-dorefa-w1-ac7630a010",
        "smoke-preact_resnet20-dorefa-w1-20d7c8c4a5",
        "smoke-preact_resnet20-dorefa-w1-3ccb495f98",
        "smoke-preact_resnet20-dorefa-w1-d4f5b05d02",
        "smoke-preact_resnet20-dorefa-w1-890bc378a7",
    ]


def test_the_chapters_run_ids_are_unchanged():
    """Records are found by run id: the default chapter's configs must hash as they did (commit 010c8c1)."""
    assert [c.run_id for c in first_phase("pdqat")] == [
        "smoke-preact_resnet20-dorefa-fp-e18dcf3eb1",
        "smoke-preact_resnet20-dorefa-w1-be26de34e1",
        "smoke-preact_resnet20-pdqat-w1-47b1121744",
        "smoke-preact_resnet20-pdqat-w1-40134f43ac",
        "smoke-preact_resnet20-pdqat-w1-69dd377683",
    ]
    assert [c.run_id for c in first_phase("pdqat", profile="quick")] == [
        "quick-preact_resnet20-dorefa-fp-b9f87a5e6a",
        "quick-preact_resnet20-dorefa-w1-eb22db6523",
        "quick-preact_resnet20-pdqat-w1-6125b4726e",
        "quick-preact_resnet20-pdqat-w1-360fa33452",
        "quick-preact_resnet20-pdqat-w1-f36dd5da02",
    ]


def test_high_precision_layers_are_pinned_and_indexed_as_the_official_list():
    cfg = config("pdqat", constraint="none", high_precision_layers=[8, 15])
    model, objective, _ = build(cfg)
    names = body_layers(model)
    assert len(names) == 20 and names[8] == "blocks.3.shortcut" and names[15] == "blocks.6.shortcut"
    layers = quantized_layers(model)
    for precision in (32, 1):  # the precision switch reaches every layer but the pinned ones
        set_precision(model, precision)
        bits = {name: (layers[name].weight_quantizer.bits, layers[name].act_quantizer.bits) for name in names}
        assert bits["blocks.3.shortcut"] == bits["blocks.6.shortcut"] == (32, 32)
        assert all(b == (precision, precision) for name, b in bits.items() if not name.endswith("shortcut"))
    assert list(objective.layers) == [n for n in names if not n.endswith("shortcut")]  # constraints: quantized only
    assert type(model.stem) is torch.nn.Conv2d and type(model.fc) is torch.nn.Linear  # full precision


@pytest.mark.parametrize("parameters, match", [
    ({"epsilon": "0.1,-0.5"}, "must be >= 0"),
    ({"constraint": "output,kl"}, "valid: none, output, layerwise"),
    ({"high_precision_layers": "3,20"}, "20 does not exist.*19: blocks.8.conv1"),
    ({"dual_lr": 0}, "dual_lr .*must be > 0"),
    ({"dual_lr": -0.01}, "dual_lr .*must be > 0"),
    ({"bit": "3"}, "valid: 1, 2, 4, 8"),
    ({"objective": "mid"}, "valid: high, low"),
])
def test_bad_chapter_parameters_are_refused_with_the_valid_choices(parameters, match):
    with pytest.raises(ValueError, match=match):
        pdqat.Params(**parameters)


@pytest.mark.parametrize("options, match", [
    ({"constraint": "output", "epsilon": -0.1}, "must be >= 0"),
    ({"constraint": "layerwise", "epsilon": 0.1, "epsilon_layer": -1.0}, "epsilon_layer must be >= 0"),
    ({"constraint": "kl", "epsilon": 0.1}, "unknown constraint type 'kl'; valid: none, output, layerwise"),
    ({"constraint": "output", "epsilon": 0.1, "dual_lr": 0.0}, "dual_lr must be > 0"),
    ({"constraint": "output"}, "needs the constraint level epsilon"),
    ({"constraint": "output", "epsilon": 0.1, "epsilon_layer": 0.1}, "does not apply to constraint=output"),
    ({"constraint": "none", "high_precision_layers": [25]}, "25 does not exist.*0: blocks.0.conv0"),
])
def test_bad_method_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        get_method("pdqat").check(config("pdqat", **options))


def test_validation_is_held_out_of_training_and_the_test_split_is_kept(digits):
    train, validation = get_method("dorefa").split_data(digits, config("dorefa"))
    assert len(train.train_x) + len(validation.test_x) == len(digits.train_x) and len(validation.test_x) == 26
    assert torch.equal(train.test_x, digits.test_x) and train.name == "digits"

    def images(x):
        return sorted(bytes(img.numpy()) for img in x)

    assert images(torch.cat([train.train_x, validation.test_x])) == images(digits.train_x)  # a partition
    assert get_method("dorefa").split_data(digits, dataclasses.replace(config("dorefa"), options={}))[1] is None


@pytest.mark.slow
def test_a_killed_pdqat_run_resumes_to_the_same_record_with_its_duals(runs_root, monkeypatch):
    cfg = config("pdqat", constraint="output", epsilon=0.5, dual_lr=0.5)
    uninterrupted = get_or_run(cfg, progress=False)
    resumed = killed_and_resumed(dataclasses.replace(cfg, chapter="killed"), monkeypatch, after_epochs=1)
    assert epoch_metrics(resumed) == epoch_metrics(uninterrupted)
    epochs = uninterrupted["epochs"]
    assert uninterrupted["summary"]["constraints"] == ["output"] and len(epochs[-1]["layer_mse"]) == 20
    assert epochs[0]["dual"] != epochs[1]["dual"]  # the second epoch's dual step started from the restored dual
    assert epochs[1]["dual"][0] == pytest.approx(max(0.0, epochs[0]["dual"][0] + 0.5 * epochs[1]["slack"][0]))
    assert uninterrupted["val_selected_top1"] in [e["test_top1"] for e in epochs] and "val_top1" in epochs[0]


@pytest.mark.slow
def test_chapter_runs_under_papermill_and_shows_every_table_row(runs_root, tmp_path):
    notebook = run_chapter("pdqat", tmp_path, epochs=1, counts="1", rules="largest")
    rows = table_output(notebook, "pdqat_report.paper_vs_ours(runs)")
    assert [(r["bits"], r["method"]) for r in rows] == [
        ("32", "full precision (32-bit path)"), ("1", "baseline: DoReFa STE-QAT"),
        ("1", "PD-QAT (i): output constraint"), ("1", "PD-QAT (ii): layer-wise + output")]
    assert all(r["data set"] == "digits" and r["profile"] == "smoke" for r in rows)
    assert rows[1]["paper top-1 (CIFAR-10)"] == "84.91 ± 0.36" and rows[1]["paper drop"] == "+6.59"
    assert all(r[VERDICT] == "n/a: digits is not cifar10" for r in rows)
    mixed = table_output(notebook, "pdqat_report.mixed_frame(")
    assert sorted((r["rule"], r["count"]) for r in mixed) == [("largest", "0"), ("largest", "1")]
    assert assert_run_links_resolve(notebook) == {r["run_id"] for r in recorded("pdqat")}


def test_the_output_constraint_table_says_whether_each_run_met_its_level():
    import pandas as pd

    from qrepro.report.pdqat import output_constraint_table

    def record(run_id: str, first: float, last: float, dual: float) -> dict:
        return {"run_id": run_id, "summary": {"constraints": ["output"]},
                "epochs": [{"output_ce": first, "dual": [0.01]}, {"output_ce": last, "dual": [dual]}]}

    frame = pd.DataFrame([
        {"row": "output", "bits": 2, "epsilon": 0.7, "top1": 80.0, "run_id": "met"},
        {"row": "output", "bits": 4, "epsilon": 0.1, "top1": 85.0, "run_id": "missed"},
        {"row": "baseline", "bits": 2, "epsilon": float("nan"), "top1": 81.0, "run_id": "baseline"},
        {"row": "output", "bits": 2, "epsilon": 0.5, "top1": float("nan"), "run_id": "not run"},
    ])
    table = output_constraint_table(frame, [record("met", 0.9, 0.65, 0.0), record("missed", 0.3, 0.2, 0.05)])
    assert list(table["run_ids"]) == [["met"], ["missed"]]  # the baseline has no constraint; no record, no row
    assert list(table["met at the end"]) == [True, False]
    assert list(table["output dual at the end"]) == [0.0, 0.05]
    assert list(table["E[l_soft], epoch 1"]) == [0.9, 0.3]


def test_the_claim_table_subtracts_the_baseline_seed_by_seed_at_each_bit_width():
    import pandas as pd

    from qrepro.report.pdqat import claim_table

    def run(row: str, bits: int, seed: int, top1: float) -> dict:
        return {"part": "table", "row": row, "bits": bits, "seed": seed, "top1": top1, "data_set": "d",
                "profile": "lite", "run_id": f"{row}-{bits}-{seed}"}

    frame = pd.DataFrame([run("baseline", 2, 0, 84.0), run("baseline", 2, 1, 86.0), run("output", 2, 0, 80.0),
                          run("output", 2, 1, 84.0), run("output", 2, 2, 99.0),  # seed 2 has no baseline: left out
                          run("baseline", 4, 0, 88.0), run("full precision", 32, 0, 89.0)])
    table = claim_table(frame)
    assert list(table["bits"]) == [2]  # 4 bits has no PD-QAT run, 32 bits no baseline
    assert table["ours − DoReFa (points)"].iloc[0] == "-3.00 ± 1.41"  # gaps -4 and -2
    assert table["seeds"].iloc[0] == 2
    assert table["paper: PD-QAT − DoReFa"].iloc[0] == "+0.05"  # Table 1: 89.43 - 89.38


def test_epsilon_reach_bounds_what_a_level_can_change_from_the_recorded_duals():
    import pandas as pd

    from qrepro.report.pdqat import epsilon_reach

    def record(run_id: str, last: float, duals: list[list[float]]) -> dict:
        return {"run_id": run_id, "summary": {"constraints": ["output", "blocks.0.conv0"]},
                "epochs": [{"output_ce": 1.0, "dual": d} for d in duals[:-1]] + [{"output_ce": last,
                                                                                    "dual": duals[-1]}]}

    frame = pd.DataFrame([
        {"row": "output", "bits": 2, "epsilon": 0.7, "top1": 70.0, "epochs": 2, "run_id": "a",
         "options": {"dual_lr": 0.01, "epsilon": 0.7}},
        {"row": "layerwise", "bits": 2, "epsilon": 0.7, "top1": 71.0, "epochs": 2, "run_id": "b",
         "options": {"dual_lr": 0.01, "epsilon": 0.7}},
    ])
    text = epsilon_reach(frame, [record("a", 0.75, [[1.002, 0.0], [1.004, 0.0]]),
                                 record("b", 0.68, [[0.999, 0.03], [0.998, 0.05]])])
    assert text.startswith("The levels are the paper's (2 bits: ε_out 0.7, E[l_soft] after the last epoch 0.680–0.750)")
    assert "within 0.050 of them (not met)" in text
    assert "no dual moved more than 0.0500" in text  # the layer dual of run b, from 0
    assert "2 × 0.01 × Δ" in text


def test_a_layerwise_headline_row_whose_layer_duals_never_rose_says_it_trained_as_the_output_only_row():
    from qrepro.report.pdqat import row_label

    def record(layer_duals: list[float]) -> dict:
        return {"summary": {"constraints": ["output", "blocks.0.conv0"]},
                "epochs": [{"epoch": i + 1, "dual": [0.5, d]} for i, d in enumerate(layer_duals)]}

    assert row_label("layerwise", 2, [record([0.0, 0.0]), record([0.0, 0.0])]).endswith(
        "2-bit (no layer constraint bound, so it trained as (i))")
    assert row_label("layerwise", 2, [record([0.0, 0.0]), record([0.02, 0.0])]) == \
        "PD-QAT (ii): layer-wise + output, 2-bit"  # one seed's layer dual rose, then fell back: it bound
    assert row_label("output", 4, [record([0.0])]) == "PD-QAT (i): output constraint, 4-bit"


def test_lite_runs_its_epsilon_study_at_the_official_ablation_levels_at_seed_0_only():
    from qrepro.chapters import pdqat as chapter
    from qrepro.report.pdqat import epsilon_study

    planned = chapter.plan(chapter.Params(profile="lite", seeds=2))
    study = [(p.config.seed, p.config.options["epsilon"]) for p in planned if p.part == "epsilon"]
    assert study == [(0, 0.05), (0, 0.1), (0, 0.2), (0, 0.7), (1, 0.7)]
    assert epsilon_study(planned) == ("The epsilon study's output levels at 2 bits: 0.05 (seed 0); 0.1 (seed 0); "
                                      "0.2 (seed 0); 0.7 (seeds 0, 1).")
    paper_level = next(p.config.run_id for p in planned if p.part == "epsilon" and p.config.options["epsilon"] == 0.7)
    table_output = next(p.config.run_id for p in planned if (p.part, p.row, p.config.bits, p.config.seed) ==
                        ("table", "output", 2, 0))
    assert paper_level == table_output  # the paper's level is the table's own run, not a second one
    chosen = chapter.plan(chapter.Params(profile="lite", epsilon="0.3"))
    assert [p.config.options["epsilon"] for p in chosen if p.part == "epsilon"] == [0.3, 0.7]
    assert [p.part for p in chapter.plan(chapter.Params())].count("epsilon") == 1  # smoke: the paper's level only
