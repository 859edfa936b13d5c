"""The dorefa method on any registered model: it trains, its layers compute on the DoReFa k-bit grids, the
stem and the classifier stay in full precision; PD-QAT still needs the switchable-BatchNorm model."""
import pytest
import torch
from torch import nn

from qrepro import data as datasets
from qrepro.methods import get_method
from qrepro.config import Schedule, TrainConfig
from qrepro.data import DeviceLoader
from qrepro.nn import QConv2d, QLinear, quantized_layers
from qrepro.runs import get_or_run, weights_path
from qrepro.runs.build import DataShape, prepared_model

pytestmark = pytest.mark.usefixtures("one_thread")


def config(arch: str, bits: int, method: str = "dorefa", epochs: int = 1, **options) -> TrainConfig:
    schedule = Schedule(epochs=epochs, batch_size=64, optimizer="adam", lr=1e-2, weight_decay=0.0,
                        lr_schedule="constant")
    return TrainConfig(chapter="dorefa-test", data="digits", arch=arch, schedule=schedule, method=method, bits=bits,
                       options=options)


def prepared(cfg: TrainConfig) -> nn.Module:
    get_method(cfg.method).check(cfg)
    return prepared_model(cfg, DataShape(in_channels=1, image_size=8, num_classes=10))


def assert_on_grids(model: nn.Module, bits: int, x: torch.Tensor, pinned: set[str] = frozenset()) -> None:
    """Every quantized layer but ``pinned``: weights on E (2 i / (2^k - 1) - 1), inputs on i / (2^k - 1), i integer."""
    steps = 2**bits - 1
    layers = {name: layer for name, layer in quantized_layers(model).items() if name not in pinned}
    inputs = {}
    handles = [layer.act_quantizer.register_forward_hook(lambda m, args, out, name=name: inputs.__setitem__(name, out))
               for name, layer in layers.items()]
    model.eval()
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    assert set(inputs) == set(layers)  # every quantized layer ran
    for name, layer in layers.items():
        with torch.no_grad():
            w = layer.quantized_weight()
        index = (w / layer.weight.abs().mean() + 1) / 2 * steps
        assert torch.allclose(index, index.round(), atol=1e-3) and index.min() > -1e-3 and index.max() < steps + 1e-3
        a = inputs[name] * steps
        assert torch.allclose(a, a.round(), atol=1e-4) and a.min() >= 0 and a.max() <= steps, name


@pytest.mark.slow
def test_dorefa_trains_resnet20_on_digits_and_computes_on_the_k_bit_grids(runs_root):
    cfg = config("resnet20", 2, epochs=3)
    record = get_or_run(cfg, progress=False)
    assert record["top1"] > 30  # chance: 10% (53% measured; the [0, 1] clip of ReLU activations slows learning)
    assert len(record["summary"]["layers"]) == 18 and record["summary"]["high_precision_layers"] == []
    model = prepared(cfg)
    model.load_state_dict(torch.load(weights_path(cfg), weights_only=True))
    images, _ = next(iter(DeviceLoader(datasets.load("digits"), "test", 64)))
    assert_on_grids(model, 2, images)


@pytest.mark.parametrize("arch, bits", [("resnet20", 1), ("resnet20", 4), ("vgg9", 2)])
def test_the_body_is_quantized_and_the_stem_and_classifier_are_not(arch, bits):
    torch.manual_seed(0)
    model = prepared(config(arch, bits, high_precision_layers=[3]))
    layers = quantized_layers(model)
    names = [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(layers) == names[1:-1]  # every Conv2d / Linear but the first and the last
    assert type(model.get_submodule(names[0])) is nn.Conv2d and type(model.get_submodule(names[-1])) is nn.Linear
    kept = names[1:-1][3]
    assert (layers[kept].weight_quantizer.bits, layers[kept].act_quantizer.bits) == (32, 32)
    assert all(isinstance(m, (QConv2d, QLinear)) for m in layers.values())
    assert_on_grids(model, bits, torch.randn(16, 1, 8, 8), pinned={kept})


def test_high_precision_layers_are_checked_against_the_models_body_layers():
    with pytest.raises(ValueError, match="7 does not exist.*0: features.3, .*6: classifier.5$"):
        get_method("dorefa").check(config("vgg9", 2, high_precision_layers=[7]))


def test_pdqat_still_needs_the_switchable_batchnorm_model():
    cfg = config("resnet20", 2, method="pdqat", constraint="none")
    with pytest.raises(ValueError, match=r"bit-widths \[2, 32\].*switchable-BatchNorm.*'resnet20'.*valid: "
                                         r"preact_resnet20"):
        get_method("pdqat").check(cfg)
