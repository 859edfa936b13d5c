"""The training precision follows the device's native bf16, QREPRO_AMP overrides it, and a record says which."""
import pytest

from qrepro import profiles
from qrepro.profiles import precision_for
from qrepro.runs.execute import training_precision


@pytest.mark.parametrize("native", [True, False])
def test_bf16_where_the_device_has_it_natively_except_on_the_tiny_data_set(monkeypatch, native):
    monkeypatch.delenv("QREPRO_AMP", raising=False)
    monkeypatch.setattr(profiles, "native_bf16", lambda device_type: native)
    assert precision_for("cifar10-jpeg", "cpu") == ("bf16" if native else "fp32")
    assert precision_for("cifar10-jpeg-nocrop", "cpu") == ("bf16" if native else "fp32")
    assert precision_for("digits", "cpu") == "fp32"


def test_qrepro_amp_overrides_and_refuses_what_the_device_cannot_do(monkeypatch):
    monkeypatch.setattr(profiles, "native_bf16", lambda device_type: device_type == "cuda")
    monkeypatch.setenv("QREPRO_AMP", "fp32")
    assert precision_for("cifar10", "cuda") == "fp32"
    monkeypatch.setenv("QREPRO_AMP", "bf16")
    assert precision_for("digits", "cuda") == "bf16"
    with pytest.raises(ValueError, match="no native bf16"):
        precision_for("cifar10", "cpu")
    monkeypatch.setenv("QREPRO_AMP", "fp16")
    with pytest.raises(ValueError, match="QREPRO_AMP must be one of bf16, fp32"):
        precision_for("cifar10", "cuda")


def test_a_run_resumed_under_another_precision_is_mixed():
    assert training_precision([{"amp": "bf16"}, {"amp": "bf16"}]) == "bf16"
    assert training_precision([{}, {"amp": "fp32"}]) == "fp32"  # epochs recorded before epochs named it
    assert training_precision([{"amp": "fp32"}, {"amp": "bf16"}]) == "mixed"
