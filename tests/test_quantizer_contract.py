"""Every quantizer module exposes the package's small contract (qrepro/quantizers/__init__.py) and its doctest passes.

bits is an int, extra_repr names it, levels() is None or a sorted 1-D tensor on which the output lies exactly
(times the scale the quantizer's docstring names), and each quantizer's docstring holds an exact doctest.
"""
import doctest
import importlib
import inspect
import pkgutil

import pytest
import torch
from torch import nn

from qrepro import quantizers
from qrepro.quantizers import (BWN, TTQ, TWN, APoTActivation, APoTWeight, DoReFaActivation, DoReFaWeight, LevelGrid,
                               SymmetricUniformWeight)

MODULES = [importlib.import_module(f"{quantizers.__name__}.{m.name}")
           for m in pkgutil.iter_modules(quantizers.__path__)]
NOT_QUANTIZERS = {LevelGrid}  # a lookup table the APoT quantizers use, not a tensor -> tensor quantizer


def quantizer_classes() -> set[type]:
    """Every public nn.Module class defined in qrepro/quantizers/*.py, less NOT_QUANTIZERS."""
    found = {cls for module in MODULES for _, cls in inspect.getmembers(module, inspect.isclass)
             if cls.__module__ == module.__name__ and issubclass(cls, nn.Module) and not cls.__name__.startswith("_")}
    return found - NOT_QUANTIZERS


def rows(w: torch.Tensor) -> torch.Tensor:
    return w.reshape(w.shape[0], -1)


def weights() -> torch.Tensor:
    return torch.randn(8, 4, 3, 3) * 0.3


def activations() -> torch.Tensor:
    return torch.randn(2, 4, 5, 5) * 2  # below 0, inside and above any clipping range


# (id, quantizer, input, scale of the output over levels(): a scalar, or one value per output filter, or None
# where levels() is None). Scales that are plain statistics are recomputed from the input; TWN's alpha (the
# mean kept magnitude, hand-computed in test_quantizers_sq.py) is read off the output.
CASES = [
    *[pytest.param(DoReFaWeight(b), weights, lambda w, q, out: w.abs().mean(), id=f"dorefa-w{b}")
      for b in (1, 2, 4, 8)],
    pytest.param(DoReFaWeight(32), weights, None, id="dorefa-w32"),
    *[pytest.param(DoReFaActivation(b), activations, lambda a, q, out: torch.tensor(1.0), id=f"dorefa-a{b}")
      for b in (1, 2, 4, 8)],
    pytest.param(DoReFaActivation(32), activations, None, id="dorefa-a32"),
    *[pytest.param(SymmetricUniformWeight(b), weights, lambda w, q, out: w.abs().max(), id=f"uniform-{b}")
      for b in (2, 3, 8)],
    pytest.param(BWN(), weights, lambda w, q, out: rows(w).abs().mean(1), id="bwn"),
    pytest.param(TWN("paper"), weights, lambda w, q, out: out.abs().max(), id="twn-paper"),
    pytest.param(TWN("official"), weights, lambda w, q, out: rows(out).abs().amax(1), id="twn-official"),
    pytest.param(TTQ(), weights, None, id="ttq"),
    *[pytest.param(APoTWeight(b, alpha_init=1.5), weights, lambda w, q, out: q.alpha.detach(), id=f"apot-w{b}")
      for b in (2, 3, 4, 5)],
    *[pytest.param(APoTActivation(b, alpha_init=3.0), activations, lambda a, q, out: q.alpha.detach(),
                   id=f"apot-a{b}") for b in (2, 3, 4, 5)],
]


def test_every_quantizer_class_has_a_contract_case():
    covered = {type(case.values[0]) for case in CASES}
    assert quantizer_classes() == covered, "add the new quantizer to CASES (and its doctest to its docstring)"


@pytest.mark.parametrize("quantizer", [case.values[0] for case in CASES], ids=[case.id for case in CASES])
def test_bits_is_an_int_named_in_extra_repr(quantizer):
    assert type(quantizer.bits) is int
    assert f"bits={quantizer.bits}" in quantizer.extra_repr()


@pytest.mark.parametrize("quantizer, make_input, scale", CASES)
def test_levels_are_sorted_and_the_output_lies_exactly_on_them(quantizer, make_input, scale):
    levels = quantizer.levels()
    assert (levels is None) == (scale is None)
    if levels is None:
        return
    assert levels.dim() == 1 and levels.dtype == torch.float32 and (levels[1:] > levels[:-1]).all()
    torch.manual_seed(quantizer.bits)
    x = make_input()
    out = quantizer(x).detach()
    s = scale(x, quantizer, out)
    grid = s.reshape(-1, 1, 1) * levels  # one row of scaled levels per scale value
    on_grid = (out.reshape(s.numel(), -1, 1) == grid).any(-1)
    assert on_grid.all(), f"{on_grid.logical_not().sum()} outputs off scale * levels()"  # exactly, atol = 0
    if levels.numel() > 2:
        assert out.unique().numel() > 2  # the level set is used, not collapsed to its ends


@pytest.mark.parametrize("cls", sorted(quantizer_classes(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_quantizer_docstring_holds_a_doctest(cls):
    assert doctest.DocTestParser().get_examples(cls.__doc__ or ""), f"{cls.__name__} has no doctest"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rpartition(".")[2])
def test_doctests_pass(module):
    result = doctest.testmod(module, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {module.__name__}"


@pytest.mark.parametrize("quantizer, make_input, scale", CASES)
def test_under_cpu_bf16_autocast_the_output_still_lies_exactly_on_the_float32_levels(quantizer, make_input, scale):
    """Training on a CPU with native bf16 runs under autocast: weights arrive in float32 (parameters), activations
    in bf16 (a convolution's output). Levels are computed in float32 either way, so the output is exact."""
    levels = quantizer.levels()
    if levels is None:
        return
    torch.manual_seed(quantizer.bits)
    x = make_input()
    if make_input is activations:
        x = x.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = quantizer(x).detach()
    assert out.dtype == torch.float32
    s = scale(x.float(), quantizer, out)
    grid = s.reshape(-1, 1, 1) * levels
    on_grid = (out.reshape(s.numel(), -1, 1) == grid).any(-1)
    assert on_grid.all(), f"{on_grid.logical_not().sum()} outputs off scale * levels()"


@pytest.mark.parametrize("name", sorted(set(__import__("qrepro.methods", fromlist=["METHODS"]).METHODS) - {"fp"}))
def test_a_methods_stated_levels_are_the_values_its_quantized_weights_take(name):
    """``Method.levels``, what a scoreboard cell says "b bits" means, against the weights of a quantized body layer:
    no filter takes more values than stated, and some filter takes exactly that many (per-filter scales count as one
    level set each)."""
    from qrepro import models
    from qrepro.config import Schedule, TrainConfig
    from qrepro.methods import METHODS
    from qrepro.methods.inq import partition_
    from qrepro.nn import quantized_layers

    method = METHODS[name]
    arch = "preact_resnet20" if name == "pdqat" else "resnet20"
    for bits in (b for b in method.supported_bits if b != 32):
        options = {"inq": {"step": 1.0}, "elq": {"step": 0.0}, "pdqat": {"epsilon": 0.1}}.get(name, {})
        config = TrainConfig(chapter="test", data="digits", arch=arch, schedule=Schedule(epochs=1), method=name,
                             bits=bits, options=options, arch_options=method.arch_options(arch, bits))
        torch.manual_seed(0)
        model = models.create(arch, num_classes=10, in_channels=1, image_size=8, **config.arch_options)
        method.prepare(model, config)
        if name in ("inq", "elq"):
            partition_(model, method.options(config))
        layers = list(quantized_layers(model).values())
        layer = layers[len(layers) // 2]
        if name == "elq":  # the final freeze at the end of the last step (everything left on its level)
            layer.weight_quantizer.freeze_(layer.weight, torch.ones_like(layer.weight_quantizer.frozen))
        with torch.no_grad():
            q = layer.weight_quantizer(layer.weight)
        per_filter = [row.unique().numel() for row in q.reshape(q.shape[0], -1)]
        stated, _ = method.levels(bits)
        assert max(per_filter) == stated or (max(per_filter) < stated and bits >= 4), (bits, per_filter[:4], stated)
        assert max(per_filter) <= stated
