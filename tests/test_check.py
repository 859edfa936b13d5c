"""python -m qrepro check: every method on every model trains two steps and evaluates, as runs do on a device,
and the check fails naming the method and model when something is wrong."""
import pytest
import torch
from torch import nn

from qrepro import check as check_module
from qrepro import profiles
from qrepro.methods import METHODS, PTQ_METHODS
from qrepro.cli import main
from qrepro.train import loop

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_method_passes_on_the_cpu_and_each_is_checked(capsys):
    assert main(["check", "--device", "cpu"]) == 0
    results = check_module.check(torch.device("cpu"))
    assert {r.method for r in results} >= set(METHODS) | set(PTQ_METHODS)
    assert not [r for r in results if r.error]


def test_every_method_trains_under_bf16_autocast_as_on_a_cpu_with_native_bf16(monkeypatch):
    """A CPU with AMX or AVX512-BF16 (and CUDA) trains under bf16 autocast: QREPRO_AMP=bf16 takes that code path
    here whatever this processor has (only the capability is assumed), with every custom autograd quantizer."""
    monkeypatch.setattr(profiles, "native_bf16", lambda device_type: True)
    monkeypatch.setenv("QREPRO_AMP", "bf16")
    entered = []
    original = loop.autocast
    monkeypatch.setattr(loop, "autocast", lambda device, amp: entered.append(amp) or original(device, amp))
    assert not [r for r in check_module.check(torch.device("cpu")) if r.error]
    assert entered and all(entered)


def test_a_trained_parameter_without_gradient_is_named(monkeypatch):
    from qrepro.methods import sq

    original = sq.BWNMethod.prepare

    def prepare_with_an_unused_parameter(self, model, config):
        original(self, model, config)
        model.unused = nn.Parameter(torch.zeros(3))

    monkeypatch.setattr(sq.BWNMethod, "prepare", prepare_with_an_unused_parameter)
    failed = {(r.method, r.arch): r.error for r in check_module.check(torch.device("cpu")) if r.error}
    assert failed and all(method == "bwn" for method, _ in failed)
    assert all("got no gradient: ['unused']" in error for error in failed.values())
    assert main(["check", "--device", "cpu"]) == 2


def test_a_diverging_method_is_named(monkeypatch):
    original = loop.Objective.loss
    monkeypatch.setattr(loop.Objective, "loss", lambda self, model, x, y: (original(self, model, x, y)[0] * torch.nan,
                                                                          model(x)))
    failed = [r for r in check_module.check(torch.device("cpu")) if r.error]
    assert any(r.method == "fp" and "not finite" in r.error for r in failed)
