"""quantize_ swaps exactly the intended layers, shares their parameters, and the 8-bit grid is exact."""
import pytest
import torch
from torch import nn

from qrepro import models
from qrepro.methods.apot import APoT
from qrepro.config import Schedule, TrainConfig
from qrepro.nn import (FULL_PRECISION, LayerQuant, QConv2d, QLinear, first_and_last, quantizable_layers, quantize_,
                       quantized_layers)
from qrepro.quantizers import (APoTActivation, APoTWeight, DoReFaActivation, DoReFaWeight, SymmetricUniformWeight)


def apot_config(bits: int) -> TrainConfig:
    return TrainConfig(chapter="t", data="digits", arch="resnet20", schedule=Schedule(epochs=1), method="apot",
                       bits=bits)


def test_apot_prepare_swaps_body_to_apot_and_keeps_stem_and_classifier_at_8_bits():
    model = models.create("resnet20", shortcut="B")
    before = {name: layer.weight for name, layer in quantizable_layers(model).items()}
    APoT().prepare(model, apot_config(3))
    layers = quantizable_layers(model)
    assert list(layers) == list(before)  # same layers, same order
    assert all(layers[name].weight is weight for name, weight in before.items())  # parameters shared
    assert type(layers["conv1"]) is QConv2d and type(layers["fc"]) is QLinear
    for name in ("conv1", "fc"):
        assert isinstance(layers[name].weight_quantizer, SymmetricUniformWeight)
        assert isinstance(layers[name].act_quantizer, nn.Identity)
    body = [name for name in layers if name not in ("conv1", "fc")]
    assert len(body) == 18 + 2  # 18 block convs + 2 shortcut convs
    for name in body:
        assert isinstance(layers[name].weight_quantizer, APoTWeight) and layers[name].weight_quantizer.bits == 3
        assert isinstance(layers[name].act_quantizer, APoTActivation)


def test_full_precision_apot_model_quantizes_only_stem_and_classifier():
    model = models.create("resnet20", shortcut="B")
    APoT().prepare(model, apot_config(32))
    assert list(quantized_layers(model)) == ["conv1", "fc"]


def test_skip_and_float_first_layer_stay_plain_modules():
    model = models.create("vgg9")
    spec = LayerQuant(weight=lambda layer: SymmetricUniformWeight(4))
    swapped = quantize_(model, spec, first=FULL_PRECISION, skip=["classifier.1"])
    layers = quantizable_layers(model)
    assert type(layers["features.0"]) is nn.Conv2d and type(layers["classifier.1"]) is nn.Linear
    assert sorted(swapped) == sorted(set(layers) - {"features.0", "classifier.1"})
    assert type(layers["classifier.9"]) is QLinear  # last layer: same as the body when last is None


def describe(model: nn.Module) -> dict[str, tuple]:
    """Per quantizable layer: its type and its quantizers' types, bits and pinning."""
    def q(m):
        return type(m).__name__, getattr(m, "bits", None), getattr(m, "pinned", None)
    return {name: (type(layer).__name__,) + ((q(layer.weight_quantizer), q(layer.act_quantizer))
                                            if isinstance(layer, (QConv2d, QLinear)) else ())
            for name, layer in quantizable_layers(model).items()}


def test_overrides_build_dorefas_mixed_model_in_one_call_as_two_calls_did():
    """DoReFa's high-precision layers: body at 2 bits, two named layers pinned at 32, stem and classifier float."""
    low = LayerQuant(weight=lambda layer: DoReFaWeight(2), act=lambda layer: DoReFaActivation(2))
    high = LayerQuant(weight=lambda layer: DoReFaWeight(32, pinned=True),
                      act=lambda layer: DoReFaActivation(32, pinned=True))
    torch.manual_seed(0)
    two = models.create("resnet20", in_channels=3, image_size=16, shortcut="B").eval()
    one = models.create("resnet20", in_channels=3, image_size=16, shortcut="B").eval()
    one.load_state_dict(two.state_dict())
    stem, classifier = first_and_last(two)
    keep = [name for name in quantizable_layers(two) if name not in (stem, classifier)][1::9]
    quantize_(two, low, first=FULL_PRECISION, last=FULL_PRECISION, skip=keep)
    quantize_(two, high, first=FULL_PRECISION, last=FULL_PRECISION)
    swapped = quantize_(one, low, first=FULL_PRECISION, last=FULL_PRECISION, overrides={name: high for name in keep})
    assert describe(one) == describe(two)
    assert len(keep) == 3 and all(swapped[name].weight_quantizer.pinned for name in keep)
    assert stem not in swapped and classifier not in swapped
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(one(x), two(x))  # atol = 0


def test_an_override_wins_over_first_and_last():
    model = models.create("vgg9")
    stem, classifier = first_and_last(model)
    eight = LayerQuant(weight=lambda layer: SymmetricUniformWeight(8))
    swapped = quantize_(model, LayerQuant(weight=lambda layer: SymmetricUniformWeight(4)), first=FULL_PRECISION,
                        last=FULL_PRECISION, overrides={stem: eight, classifier: FULL_PRECISION})
    assert swapped[stem].weight_quantizer.bits == 8 and classifier not in swapped
    assert {layer.weight_quantizer.bits for name, layer in swapped.items() if name != stem} == {4}


def test_unknown_skip_and_models_without_layers_are_clear_errors():
    with pytest.raises(ValueError, match="quantizable layers are"):
        quantize_(models.create("lenet5"), LayerQuant(), skip=["nope"])
    with pytest.raises(ValueError, match="quantizable layers are"):
        quantize_(models.create("lenet5"), LayerQuant(), overrides={"nope": LayerQuant()})
    name = next(iter(quantizable_layers(models.create("lenet5"))))
    with pytest.raises(ValueError, match="both skipped and overridden"):
        quantize_(models.create("lenet5"), LayerQuant(), skip=[name], overrides={name: LayerQuant()})
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        quantize_(nn.Sequential(nn.ReLU()), LayerQuant())


def test_quantized_model_trains_end_to_end_and_alphas_get_gradients():
    torch.manual_seed(0)
    model = models.create("resnet20", in_channels=1, shortcut="B")
    APoT().prepare(model, apot_config(2))
    out = model(torch.randn(4, 1, 8, 8))
    nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    for layer in quantized_layers(model).values():
        if isinstance(layer.weight_quantizer, APoTWeight):
            assert layer.weight_quantizer.alpha.grad is not None
            assert layer.act_quantizer.alpha.grad is not None


def test_eight_bit_weights_lie_on_a_255_level_symmetric_grid():
    torch.manual_seed(3)
    w = torch.randn(64, 32)
    q = SymmetricUniformWeight(8)(w)
    step = w.abs().max() / 127
    codes = q / step
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert codes.abs().max().round() == 127 and len(codes.round().unique()) <= 255


@pytest.mark.parametrize("arch", ["resnet20", "vgg9", "preact_resnet20"])
def test_a_model_whose_quantized_layers_have_no_quantizer_is_the_float_model_exactly(arch):
    torch.manual_seed(0)
    model = models.create(arch, in_channels=3, image_size=16).eval()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        swapped = quantize_(model, LayerQuant(weight=lambda layer: nn.Identity()))
        assert len(swapped) == len(quantizable_layers(models.create(arch, in_channels=3, image_size=16)))
        assert torch.equal(model(x), expected)  # atol = 0
