"""INQ and ELQ: frozen weights stay frozen and on their level set across steps; partitions grow as specified."""
import dataclasses
import math

import pytest
import torch

from qrepro import models
from qrepro.chapters import sq as sq_chapter
from qrepro.methods import get_method, inq
from qrepro.quantizers import inq_exponents
from qrepro.runs import get_or_run, weights_path

SQ_SETTINGS = {"granularity": "filter", "prob": "linear", "select": "quantized"}


def _fp_parent(epochs: int = 2):
    return sq_chapter.run_config("fp", {}, "lenet5", "smoke", "digits", epochs, 0)


def _weights(config) -> dict[str, torch.Tensor]:
    return torch.load(weights_path(config), weights_only=True)


def _layers(state: dict[str, torch.Tensor]) -> list[str]:
    return [k.removesuffix(".weight_quantizer.frozen") for k in state if k.endswith(".weight_quantizer.frozen")]


def test_frozen_partition_reads_frozen_values_and_blocks_their_gradient():
    w = torch.randn(3, 4, requires_grad=True)
    part = inq.FrozenPartition(w.detach(), "inq", 3)
    part.set_scale_(w.detach())
    frozen = torch.zeros(3, 4, dtype=torch.bool)
    frozen[0] = True
    part.freeze_(w.detach(), frozen)
    out = part(w)
    assert torch.equal(out[0], part.quantize(w.detach())[0]) and torch.equal(out[1:], w.detach()[1:])
    out.sum().backward()
    assert torch.equal(w.grad[0], torch.zeros(4)) and torch.equal(w.grad[1:], torch.ones(2, 4))


def test_inq_steps_freeze_the_largest_weights_on_powers_of_two_and_keep_them(runs_root):
    parent = _fp_parent()
    steps = sq_chapter.step_chain("inq", None, parent, 3, "smoke", 1)
    records = [get_or_run(c, progress=False) for c in steps]
    parent_state = _weights(parent)
    states = [_weights(c) for c in steps]
    for name in _layers(states[0]):
        n1, n2 = inq_exponents(parent_state[f"{name}.weight"].abs().max().item(), 3)  # fixed from the FP model
        levels = torch.tensor([0.0] + [s * 2.0**e for e in range(n2, n1 + 1) for s in (1, -1)])
        previous = None
        for step, state in zip(inq.INQ_STEPS, states):
            frozen, values = state[f"{name}.weight_quantizer.frozen"], state[f"{name}.weight_quantizer.values"]
            assert int(frozen.sum()) == math.floor(step * frozen.numel() + 1e-9)
            assert torch.isin(values[frozen], levels).all()
            assert state[f"{name}.weight_quantizer.scale"].item() == 2.0**n1
            if previous is not None:  # frozen weights stay frozen, with the same value
                assert (frozen | ~previous[0]).all()
                assert torch.equal(values[previous[0]], previous[1][previous[0]])
            previous = frozen, values
        first = states[0]  # the first step froze the largest-|w| half of the full-precision weights
        w = parent_state[f"{name}.weight"]
        frozen = first[f"{name}.weight_quantizer.frozen"]
        assert w.abs()[frozen].min() >= w.abs()[~frozen].max()
    assert records[-1]["epochs"][-1]["frozen"] == 1.0
    assert all(layer["frozen"] == 1.0 for layer in records[-1]["summary"]["layers"].values())


def test_stochastic_inq_grows_whole_filters_by_roulette(runs_root):
    steps = sq_chapter.step_chain("inq", SQ_SETTINGS, _fp_parent(1), 3, "smoke", 1)
    for c in steps:
        get_or_run(c, progress=False)
    previous: dict[str, torch.Tensor] = {}
    for step, config in zip(inq.INQ_STEPS, steps):
        state = _weights(config)
        for name in _layers(state):
            frozen = state[f"{name}.weight_quantizer.frozen"].reshape(len(state[f"{name}.weight"]), -1)
            whole = frozen.all(1)
            assert torch.equal(whole, frozen.any(1))  # filters freeze as a whole
            assert int(whole.sum()) == math.floor(step * len(whole) + 1e-9)
            if name in previous:  # frozen filters stay frozen
                assert (whole | ~previous[name]).all()
            previous[name] = whole


def test_elq_freezes_its_band_then_everything_and_pulls_free_weights(runs_root):
    parent = _fp_parent(1)
    steps = sq_chapter.step_chain("elq", None, parent, 2, "smoke", 1)
    model = models.create("lenet5", in_channels=1, image_size=8)
    get_method("elq").prepare(model, steps[0])
    model.load_state_dict(_weights_after(parent), strict=False)
    get_method("elq").after_parent_loaded(model, steps[0])  # the first step: sigma = 0.4
    objective = get_method("elq").objective(model, steps[0])
    for layer, part in inq.partitions(model).values():
        w, alpha = layer.weight.detach(), part.scale
        assert alpha.item() == pytest.approx((w.abs().mean() + 0.05 * w.abs().max()).item())
        band = ((w.abs() >= 0.4 * alpha) & (w.abs() < 0.6 * alpha)) | (w.abs() > 2 * alpha)
        assert torch.equal(part.frozen, band)
        assert set(part.values[part.frozen].unique().tolist()) <= {-alpha.item(), 0.0, alpha.item()}
        assert torch.equal(part.pull, torch.sign(w - part.quantize(w)) * ~band)
    before = {name: layer.weight.detach().clone() for name, (layer, _) in inq.partitions(model).items()}
    objective.before_step(model.train())
    for name, (layer, part) in inq.partitions(model).items():
        assert torch.allclose(layer.weight.detach(), before[name] - 1e-5 * part.pull)
    records = [get_or_run(c, progress=False) for c in steps]
    assert [r["epochs"][-1]["frozen"] < 1.0 for r in records] == [True] * 6 + [False]  # the final freeze


def _weights_after(config) -> dict[str, torch.Tensor]:
    get_or_run(config, progress=False)
    return _weights(config)


@pytest.mark.parametrize("method, options, match", [
    ("inq", {"step": 0.5, "partition": "band"}, "magnitude, stochastic"),
    ("elq", {"step": 0.6, "partition": "band"}, r"\[0, 0.5\)"),
    ("inq", {"step": 1.5, "partition": "magnitude"}, r"\(0, 1\]"),
    ("inq", {"step": 0.5, "partition": "stochastic", "prob": "cubic"}, "constant, linear"),
])
def test_bad_partitions_are_refused(method, options, match):
    config = sq_chapter.step_chain(method, None, _fp_parent(), 3, "smoke", 1)[0]
    with pytest.raises(ValueError, match=match):
        get_method(method).check(dataclasses.replace(config, options=options))
