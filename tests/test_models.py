"""Architecture properties of the qrepro.models zoo."""

import pytest
import torch
from torch import nn

from qrepro import models
from qrepro.models.resnet_cifar import ShortcutA


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def of_type(model: nn.Module, cls: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, cls)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_available_lists_every_model():
    assert models.available() == ["lenet5", "preact_resnet20", "resnet18", "resnet20", "resnet32", "resnet56", "vgg9",
                                  "vgg_small"]


@pytest.mark.parametrize("name", models.available())
@pytest.mark.parametrize("channels,size", [(3, 32), (1, 8)])
def test_forward_backward(name, channels, size):
    model = models.create(name, num_classes=10, in_channels=channels, image_size=size)
    out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, 10)
    out.square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    # first Conv2d in modules() order is the stem, last Linear the classifier
    assert of_type(model, nn.Conv2d)[0].in_channels == channels
    assert of_type(model, nn.Linear)[-1].out_features == 10


@pytest.mark.parametrize("name", models.available())
def test_first_conv_and_last_linear_are_stem_and_classifier(name):
    model = models.create(name, num_classes=7, in_channels=5)
    convs, linears = of_type(model, nn.Conv2d), of_type(model, nn.Linear)
    assert convs[0].in_channels == 5 and all(c.in_channels != 5 for c in convs[1:])
    assert linears[-1].out_features == 7 and all(fc.out_features != 7 for fc in linears[:-1])
    assert model(torch.randn(2, 5, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name,depth", [("resnet20", 20), ("resnet32", 32), ("resnet56", 56)])
def test_resnet_depth(name, depth):
    a = models.create(name)
    b = models.create(name, shortcut="B")
    assert len(of_type(a, nn.Conv2d)) == depth - 1
    assert len(of_type(b, nn.Conv2d)) == depth - 1 + 2
    assert len(of_type(a, nn.Linear)) == len(of_type(b, nn.Linear)) == 1
    # B adds exactly two 1x1 conv (no bias) + BN projections: 16->32 and 32->64
    assert n_params(b) - n_params(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_resnet_parameter_counts():
    assert n_params(models.create("resnet20")) == 269_722
    assert n_params(models.create("resnet32")) == 464_154
    assert n_params(models.create("resnet56")) == 853_018
    assert n_params(models.create("resnet18")) == 11_173_962
    assert n_params(models.create("resnet18", maxpool=True)) == 11_173_962


def test_shortcut_a_is_parameter_free_and_zero_pads():
    model = models.create("resnet20")
    shortcuts = of_type(model, ShortcutA)
    assert len(shortcuts) == 2
    assert all(n_params(s) == 0 for s in shortcuts)
    x = torch.randn(2, 16, 8, 8)
    y = ShortcutA(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()


def test_resnet_width_multiplier():
    model = models.create("resnet20", width=2)
    assert [c.out_channels for c in of_type(model, nn.Conv2d)][::6] == [32, 32, 64, 128]
    assert of_type(model, nn.Linear)[-1].in_features == 128


def test_resnet18_layout():
    plain = models.create("resnet18")
    pooled = models.create("resnet18", maxpool=True)
    stem = of_type(plain, nn.Conv2d)[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert len(of_type(plain, nn.Conv2d)) == 17 + 3
    assert not of_type(plain, nn.MaxPool2d) and len(of_type(pooled, nn.MaxPool2d)) == 1
    assert [c.out_channels for c in of_type(plain, nn.Conv2d) if c.kernel_size == (1, 1)] == [128, 256, 512]


def test_vgg9_layers_and_biases():
    model = models.create("vgg9")
    convs, linears = of_type(model, nn.Conv2d), of_type(model, nn.Linear)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is None for c in convs)
    assert [(fc.in_features, fc.out_features) for fc in linears] == [(256 * 4 * 4, 512), (512, 512), (512, 10)]
    assert [fc.bias is not None for fc in linears] == [False, False, True]
    assert len(of_type(model, nn.BatchNorm2d)) == 6 and len(of_type(model, nn.BatchNorm1d)) == 2
    assert all(bn.affine for bn in of_type(model, nn.modules.batchnorm._BatchNorm))
    assert sorted(d.p for d in of_type(model, nn.Dropout)) == [0.25, 0.25, 0.25, 0.5, 0.5]
    assert models.create("vgg9", image_size=8).classifier[1].in_features == 256


def test_vgg_small_layers():
    model = models.create("vgg_small")
    convs, linears = of_type(model, nn.Conv2d), of_type(model, nn.Linear)
    assert [c.out_channels for c in convs] == [128, 128, 256, 256, 512, 512]
    assert all(c.bias is None for c in convs) and len(of_type(model, nn.BatchNorm2d)) == 6
    assert [(fc.in_features, fc.out_features) for fc in linears] == [(512 * 4 * 4, 10)]
    assert of_type(models.create("vgg_small", image_size=8), nn.Linear)[0].in_features == 512


def test_lenet5_layers():
    model = models.create("lenet5", in_channels=1, image_size=28)
    assert [(c.out_channels, c.kernel_size, c.padding) for c in of_type(model, nn.Conv2d)] == [
        (6, (5, 5), (2, 2)),
        (16, (5, 5), (2, 2)),
    ]
    assert [fc.out_features for fc in of_type(model, nn.Linear)] == [120, 84, 10]
    assert of_type(model, nn.Linear)[0].in_features == 16 * 7 * 7
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_init():
    model = models.create("resnet18")
    conv = model.layers[3][1].conv2  # 512 -> 512, 3x3: 2.4 M weights
    assert conv.weight.std().item() == pytest.approx((2 / (9 * 512)) ** 0.5, rel=0.02)
    for bn in of_type(model, nn.BatchNorm2d):
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and not bn.bias.any()


def test_unknown_name_lists_models():
    with pytest.raises(ValueError, match="unknown model 'resnet21'") as err:
        models.create("resnet21")
    for name in models.available():
        assert name in str(err.value)


def test_unknown_option_lists_accepted():
    with pytest.raises(TypeError, match="'resnet20'.*depth.*shortcut, width"):
        models.create("resnet20", depth=8)
    with pytest.raises(TypeError, match="'vgg9'.*accepted options: none"):
        models.create("vgg9", shortcut="B")


def test_bad_option_values():
    with pytest.raises(ValueError, match="'A', 'B'"):
        models.create("resnet20", shortcut="C")
    with pytest.raises(ValueError, match="image_size >= 8"):
        models.create("vgg9", image_size=4)


def test_batchnorms_at_bit_widths_the_parent_lacks_start_from_its_full_precision_ones():
    """PD-QAT's b-bit BatchNorms start from the parent's 32-bit ones; the parent's 32-bit ones are left out of a
    model that has none."""
    from qrepro.models.preact_resnet import initialize_precisions

    torch.manual_seed(0)
    parent = models.create("preact_resnet20", width=1, bit_widths=[32])
    for module in parent.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight)
            torch.nn.init.uniform_(module.running_mean)
    state = parent.state_dict()
    for bit_widths in ([2, 32], [2]):
        child = models.create("preact_resnet20", width=1, bit_widths=bit_widths)
        adapted, copied, left_out = initialize_precisions(state, child)
        result = child.load_state_dict(adapted, strict=False)
        assert not result.missing_keys and not result.unexpected_keys
        assert copied and all(".bns.2." in key and source == key.replace(".bns.2.", ".bns.32.")
                              for key, source in copied.items())
        assert torch.equal(child.blocks[4].bn1.bns["2"].weight, parent.blocks[4].bn1.bns["32"].weight)
        assert torch.equal(child.bn.bns["2"].running_mean, parent.bn.bns["32"].running_mean)
        assert bool(left_out) == (bit_widths == [2])


@pytest.mark.parametrize("amp", [False, True])
def test_the_pre_activation_clip_has_clamps_values_and_gradient_bit_for_bit(amp, monkeypatch):
    """hardtanh(x, 0, 1) stands in for clamp(x, 0, 1) (faster under CPU bf16): the records made with clamp stay
    valid only if the two agree on every output and gradient, in float32 and under bf16 autocast."""
    from qrepro.models import preact_resnet

    def trained(clip) -> list[torch.Tensor]:
        monkeypatch.setattr(preact_resnet.F, "hardtanh", clip)
        torch.manual_seed(0)
        model = models.create("preact_resnet20", width=1, bit_widths=[32])
        with torch.no_grad():  # channel 0 of every BatchNorm sits on the clip's lower edge, channel 1 on its upper
            for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
                bn.weight[:2] = 0
                bn.bias[:2] = torch.tensor([0.0, 1.0])
        x = torch.randn(8, 3, 32, 32)
        with torch.autocast("cpu", torch.bfloat16, enabled=amp):
            loss = model(x).float().square().mean()
        loss.backward()
        return [loss.detach(), *(p.grad for p in model.parameters())]

    clamped = trained(lambda x, low, high: x.clamp(low, high))
    monkeypatch.undo()
    hardtanh = trained(torch.nn.functional.hardtanh)
    assert all(torch.equal(a, b) for a, b in zip(clamped, hardtanh, strict=True))
