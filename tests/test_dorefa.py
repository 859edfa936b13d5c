"""DoReFa quantizers (Any-Precision / PD-QAT variant): level sets, straight-through gradients, precision switching;
and the pre-activation ResNet-20 they run in."""
import pytest
import torch
from torch import nn

from qrepro import models
from qrepro.models.preact_resnet import SwitchableBatchNorm2d, set_precision
from qrepro.quantizers import DoReFaActivation, DoReFaWeight, dorefa_activation, dorefa_weight, quantize_k


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_weights_take_2_to_the_k_evenly_spaced_values_in_minus_e_e(bits):
    w = torch.randn(64, 32, 3, 3) * 0.1
    e = w.abs().mean()
    q = dorefa_weight(w, bits)
    steps = 2**bits - 1
    index = (q / e + 1) / 2 * steps  # level index 0 .. 2^k - 1
    assert torch.allclose(index, index.round(), atol=1e-4)
    levels = index.round()
    assert levels.min() >= 0 and levels.max() <= steps  # the grid spans [-E, E] ...
    assert levels.flatten()[w.abs().argmax()] in (0, steps)  # ... and the largest |w| sits on one of its ends
    if bits <= 4:
        assert len(torch.unique(levels)) == 2**bits  # every level used by an 18k-weight tensor
    if bits == 1:
        assert torch.allclose(q.abs(), e.expand_as(q)) and torch.equal(q.sign(), w.sign())  # +-E, no zero level


def test_weight_levels_follow_the_tanh_normalization():
    w = torch.tensor([-2.0, -0.1, 0.0, 0.3, 1.0])
    e, t = w.abs().mean(), torch.tanh(w)
    expected = e * (2 * torch.round((t / (2 * t.abs().max()) + 0.5) * 3) / 3 - 1)
    assert torch.allclose(dorefa_weight(w, 2), expected)
    assert torch.allclose(dorefa_weight(w, 32), e * t / t.abs().max())  # the unrounded path, max |w| = E


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_activations_are_clipped_to_0_1_then_on_the_k_bit_grid(bits):
    a = torch.randn(10_000) * 2
    q = dorefa_activation(a, bits)
    steps = 2**bits - 1
    assert torch.allclose(q * steps, (q * steps).round(), atol=1e-5)
    assert q.min() == 0 and q.max() == 1
    assert (q - a.clamp(0, 1)).abs().max() <= 0.5 / steps + 1e-6  # nearest level
    assert torch.equal(dorefa_activation(a, 32), a.clamp(0, 1))


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_weight_gradient_passes_straight_through_the_rounding_only(bits):
    """STE on the rounding, true derivatives of tanh and max: the k-bit gradient is the 32-bit path's."""
    w = (torch.randn(16, 8, 3, 3) * 0.2).requires_grad_()
    upstream = torch.randn_like(w)
    (grad_k,) = torch.autograd.grad((dorefa_weight(w, bits) * upstream).sum(), w)
    (grad_32,) = torch.autograd.grad((dorefa_weight(w, 32) * upstream).sum(), w)
    assert torch.allclose(grad_k, grad_32, atol=1e-6)
    assert not torch.allclose(grad_k, upstream)  # tanh and the max are differentiated, not skipped


def test_activation_gradient_is_one_inside_0_1_and_zero_outside():
    a = torch.tensor([-0.5, 0.1, 0.49, 0.9, 1.5], requires_grad=True)
    dorefa_activation(a, 2).sum().backward()
    assert a.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    x = torch.tensor([0.2, 0.7], requires_grad=True)
    quantize_k(x, 3).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_switchable_and_pinned_quantizers():
    weight, act, pinned = DoReFaWeight(2), DoReFaActivation(2), DoReFaWeight(32, pinned=True)
    holder = nn.ModuleList([weight, act, pinned])
    set_precision(holder, 32)
    assert (weight.bits, act.bits, pinned.bits) == (32, 32, 32)
    set_precision(holder, 4)
    assert (weight.bits, act.bits, pinned.bits) == (4, 4, 32)
    w = torch.randn(50)
    assert torch.equal(weight(w), dorefa_weight(w, 4)) and torch.equal(pinned(w), dorefa_weight(w, 32))


@pytest.mark.parametrize("bits", [0, 9, 16])
def test_unsupported_bits_name_the_valid_ones(bits):
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 4, 5, 6, 7, 8, 32\)"):
        DoReFaWeight(bits)
    with pytest.raises(ValueError, match="32"):
        DoReFaActivation(2).set_bits(bits)


def test_preact_resnet20_is_the_paper_model():
    model = models.create("preact_resnet20", num_classes=10, in_channels=3, bit_widths=(2, 32))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs[:1]] == [80] and model.fc.in_features == 320  # x5: 80/160/320
    assert len(convs) == 1 + 18 + 2  # stem, 9 blocks x 2, two 1x1 shortcuts
    weights = sum(c.weight.numel() for c in convs) + model.fc.weight.numel()
    # about 6.75 M conv/FC weights, as the layer shapes of the official resnet20q give (con-qat models/resnet_quan.py)
    assert weights == pytest.approx(6.75e6, rel=0.01)
    shortcuts = [name for name, m in model.named_modules() if name.endswith("shortcut")]
    assert shortcuts == ["blocks.3.shortcut", "blocks.6.shortcut"]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_switchable_batchnorm_keeps_statistics_per_bit_width():
    model = models.create("preact_resnet20", num_classes=10, in_channels=1, width=1, bit_widths=(2, 32))
    bns = [m for m in model.modules() if isinstance(m, SwitchableBatchNorm2d)]
    set_precision(model, 2)
    model(torch.randn(8, 1, 8, 8) + 3)
    assert all(bn.bns["2"].num_batches_tracked == 1 and bn.bns["32"].num_batches_tracked == 0 for bn in bns)
    assert not torch.equal(bns[0].bns["2"].running_mean, bns[0].bns["32"].running_mean)
    with pytest.raises(ValueError, match=r"bit-widths \[2, 32\], not 4"):
        set_precision(model, 4)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 32])
def test_activation_equals_its_autograd_composition_bit_for_bit(bits):
    """The one-allocation activation against clamp -> x + (round(x) - x).detach() -> divide, as autograd runs it:
    same values and same gradient (clamp's mask is exclusive at 0 and 1, as torch differentiates clamp)."""
    a = torch.randn(100_000) * 1.5
    a[:6] = torch.tensor([0.0, 1.0, 0.5, 1 / 3, -1e-30, 1 + 1e-7])
    upstream = torch.randn(100_000)

    def composition(x: torch.Tensor) -> torch.Tensor:
        clipped = x.clamp(0, 1)
        if bits == 32:
            return clipped
        scaled = clipped * (2**bits - 1)
        return (scaled + (torch.round(scaled) - scaled).detach()) / (2**bits - 1)

    grads = []
    for fn in (composition, lambda x: dorefa_activation(x, bits)):
        x = a.clone().requires_grad_(True)
        out = fn(x)
        out.backward(upstream)
        grads.append((out.detach(), x.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    assert grads[1][1][:2].tolist() == [0.0, 0.0]


def test_round_ste_rounds_half_to_even_and_passes_the_gradient_unchanged():
    from qrepro.quantizers import round_ste

    x = torch.tensor([-1.5, -0.5, 0.49, 0.5, 1.5, 2.5, 2.51], requires_grad=True)
    out = round_ste(x)
    assert out.tolist() == [-2.0, -0.0, 0.0, 0.0, 2.0, 2.0, 3.0]
    upstream = torch.randn(7)
    out.backward(upstream)
    assert torch.equal(x.grad, upstream)
