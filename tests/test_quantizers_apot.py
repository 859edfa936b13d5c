"""APoT level sets, projection onto them and the gradients the paper and the official code state."""
from fractions import Fraction as F

import pytest
import torch

from qrepro.quantizers import (APoTActivation, APoTWeight, LevelGrid, apot_level_fractions, apot_levels,
                               apot_magnitudes, nearest_level)
from qrepro.quantizers.apot import _ActivationRCF, _WeightRCF

# normalized magnitudes of the official build_power_value(B), yhhhli/APoT_Quantization CIFAR10/models/quant_layer.py
TABLE = {
    2: [F(0), F(1, 4), F(1, 2), F(1)],
    3: [F(0), F(1, 10), F(2, 10), F(3, 10), F(4, 10), F(6, 10), F(8, 10), F(1)],
    4: [F(0), F(1, 48), F(1, 24), F(1, 16), F(1, 12), F(1, 8), F(1, 6), F(3, 16), F(1, 4), F(1, 3), F(3, 8),
        F(1, 2), F(2, 3), F(11, 16), F(3, 4), F(1)],
}
TABLE_5_ROUNDED = [0, .01, .02, .03, .04, .05, .06, .07, .08, .10, .12, .14, .16, .17, .20, .21, .24, .28, .32, .34,
                   .36, .38, .48, .52, .64, .65, .68, .69, .72, .76, .96, 1]


@pytest.mark.parametrize("b", [2, 3, 4])
def test_magnitudes_equal_the_official_table(b):
    assert list(apot_magnitudes(b)) == TABLE[b]


def test_five_bit_magnitudes_match_the_rounded_table():
    values = [float(v) for v in apot_magnitudes(5)]
    assert len(values) == 32
    assert max(abs(v - t) for v, t in zip(values, TABLE_5_ROUNDED)) < 0.005


@pytest.mark.parametrize("n", [1, 2])
def test_even_bit_sets_follow_the_paper_formula(n):
    """b = k*n with k = 2: gamma * {sum_i p_i}, p_i in {0, 2^-i, 2^-(i+n), 2^-(i+2n)}."""
    sums = {F(0)}
    for i in range(n):
        choices = [F(0)] + [F(1, 2 ** (i + j * n)) for j in range(2 ** 2 - 1)]
        sums = {s + p for s in sums for p in choices}
    assert sorted(s / max(sums) for s in sums) == list(apot_magnitudes(2 * n))


def test_signed_and_unsigned_level_sets():
    assert apot_levels(2, signed=True).tolist() == [-1.0, 0.0, 1.0]  # uniform ternary
    assert apot_levels(3, signed=True).tolist() == [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0]  # plain PoT
    assert [len(apot_levels(b, signed=True)) for b in (2, 3, 4, 5)] == [3, 7, 15, 31]
    assert [len(apot_levels(b, signed=False)) for b in (2, 3, 4, 5)] == [4, 8, 16, 32]
    assert apot_levels(4, signed=True).tolist() == sorted({-float(m) for m in TABLE[3]} | {float(m) for m in TABLE[3]})


@pytest.mark.parametrize("bits", [1, 6, 7, 8])
def test_unsupported_bits_are_refused_with_the_valid_choices(bits):
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        apot_levels(bits, signed=True)
    with pytest.raises(ValueError):
        APoTWeight(bits)


def test_nearest_level_equals_brute_force_argmin():
    torch.manual_seed(0)
    levels = apot_levels(4, signed=True).float()
    x = torch.randn(5000) * 0.7
    brute = levels[(x[:, None] - levels[None]).abs().argmin(1)]
    assert torch.equal(nearest_level(x, levels), brute)
    nchw = torch.randn(4, 3, 5, 5)
    assert torch.equal(nearest_level(nchw.to(memory_format=torch.channels_last), levels), nearest_level(nchw, levels))


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_level_grid_lookup_is_the_clipped_nearest_level(bits, signed):
    torch.manual_seed(bits)
    grid = LevelGrid(apot_level_fractions(bits, signed))
    levels = apot_levels(bits, signed).float()
    x = torch.randn(20000) * 0.8
    alpha = torch.tensor(1.3)
    clipped = (x / alpha).clamp(levels[0].item(), levels[-1].item())
    assert torch.equal(grid.lookup(grid.cell(x, alpha)), nearest_level(clipped, levels))
    assert torch.equal(grid.lookup(grid.cell(x, alpha), alpha), nearest_level(clipped, levels) * alpha)


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_quantized_weights_lie_exactly_on_the_scaled_grid(bits):
    torch.manual_seed(bits)
    quantizer = APoTWeight(bits, alpha_init=2.5)
    out = quantizer(torch.randn(16, 8, 3, 3) * 0.1 + 0.02)
    grid = quantizer.levels() * quantizer.alpha.detach()
    assert torch.isin(out.detach(), grid).all()
    assert len(out.unique()) > len(grid) // 2  # the grid is used, not collapsed


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_quantized_activations_lie_exactly_on_the_scaled_grid(bits):
    quantizer = APoTActivation(bits, alpha_init=3.0)
    out = quantizer(torch.rand(4, 8, 6, 6) * 5)
    assert torch.isin(out.detach(), quantizer.levels() * quantizer.alpha.detach()).all()


def test_weight_gradients_hand_computed():
    """dQ/dw_hat = 1 everywhere (never clipped); dQ/dalpha = sign(x) outside, Pi(x) - x inside."""
    grid = LevelGrid(apot_level_fractions(3, signed=True))  # +-{0, 1/4, 1/2, 1}
    w_hat = torch.tensor([0.3, -0.9, 2.4, -5.0], requires_grad=True)
    alpha = torch.tensor(2.0, requires_grad=True)
    out = _WeightRCF.apply(w_hat, alpha, grid)
    # x = [0.15, -0.45, 1.2, -2.5] -> Pi = [0.25, -0.5, (clip) 1, -1]
    assert out.tolist() == [0.5, -1.0, 2.0, -2.0]
    g = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out.backward(g)
    assert w_hat.grad.tolist() == g.tolist()
    expected = 1 * (0.25 - 0.15) + 2 * (-0.5 + 0.45) + 3 * 1 + 4 * -1
    assert alpha.grad.item() == pytest.approx(expected, abs=1e-6)


def test_weight_quantizer_normalizes_with_detached_statistics():
    torch.manual_seed(1)
    w = torch.randn(32, 3, 3, 3, requires_grad=True)
    quantizer = APoTWeight(4)
    quantizer(w).sum().backward()
    # straight through the projection and through (w - mean) / std with mean, std constants
    assert torch.allclose(w.grad, torch.full_like(w, 1 / w.detach().std().item()))


def test_activation_gradients_hand_computed():
    """dQ/da = 1[a <= alpha]; dQ/dalpha = 1 above alpha, Pi(x) - x below."""
    grid = LevelGrid(apot_level_fractions(2, signed=False))  # {0, 1/4, 1/2, 1}
    a = torch.tensor([0.2, 0.9, 1.6, 3.0], requires_grad=True)
    alpha = torch.tensor(2.0, requires_grad=True)
    out = _ActivationRCF.apply(a, alpha, grid)
    # x = [0.1, 0.45, 0.8, 1.5] -> Pi = [0, 0.5, 1, (clip) 1]
    assert out.tolist() == [0.0, 1.0, 2.0, 2.0]
    out.backward(torch.ones(4))
    assert a.grad.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert alpha.grad.item() == pytest.approx((0 - 0.1) + (0.5 - 0.45) + (1 - 0.8) + 1, abs=1e-6)


@pytest.mark.parametrize("bits", [3, 4, 5])
def test_cells_of_bf16_activations_are_those_of_their_exact_values(bits):
    """Under bf16 autocast activations arrive in bf16; their cell index is computed in float32, not in bf16's 8
    significant bits (which put 1-3 % of them on a neighbouring level)."""
    quantizer = APoTActivation(bits)
    a = (torch.rand(20_000, generator=torch.Generator().manual_seed(0)) * 9).to(torch.bfloat16)
    alpha = quantizer.alpha.detach()
    assert torch.equal(quantizer.grid.cell(a, alpha), quantizer.grid.cell(a.float(), alpha))


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_activation_quantizer_equals_the_per_element_formula(bits):
    """The fused forward and backward against the module docstring's formulas written element by element:
    Q(a) = alpha Pi(min(a / alpha, 1)) and dQ/da = 1[a / alpha <= 1] bit for bit (x = 1 exactly included);
    dQ/dalpha = Pi(x) - x below 1, 1 above, summed in another order (close, not bit-equal)."""
    quantizer = APoTActivation(bits)
    g = torch.Generator().manual_seed(bits)
    a = torch.randn(50_000, generator=g) * 6
    alpha = quantizer.alpha.detach()
    a[:4] = torch.tensor([1.0, 0.0, -1.0, 2.0]) * alpha  # x = 1 exactly (inside), 0, negative, above
    upstream = torch.randn(50_000, generator=g)
    a.requires_grad_(True)
    quantizer(a).backward(upstream)

    x = a.detach() / alpha
    levels = torch.tensor([float(v) for v in apot_level_fractions(bits, signed=False)])
    projected = nearest_level(x.clamp_max(1), levels)
    assert torch.equal(quantizer(a.detach()), quantizer.grid.lookup(quantizer.grid.cell(a.detach(), alpha), alpha))
    assert torch.allclose(quantizer(a.detach()), alpha * projected)
    inside = x <= 1
    assert inside[0] and torch.equal(a.grad, upstream * inside)
    expected = (upstream * torch.where(inside, projected - x, torch.ones_like(x))).double().sum()
    assert quantizer.alpha.grad.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-3)


def test_apot_training_keeps_every_clipping_value_positive():
    """A step that would leave alpha <= 0 (one lite seed's went to -30.7) is projected onto ALPHA_MIN, before the
    next step and before the evaluation; a positive alpha is left exactly as the optimizer made it."""
    from qrepro import models
    from qrepro.config import Schedule, TrainConfig
    from qrepro.methods import get_method
    from qrepro.methods.apot import ALPHA_MIN

    config = TrainConfig(chapter="test", data="digits", arch="resnet20", schedule=Schedule(epochs=1), method="apot",
                         bits=2)
    model = models.create("resnet20", num_classes=10, in_channels=1, image_size=8)
    method = get_method("apot")
    method.prepare(model, config)
    objective = method.objective(model, config)
    quantizers = [m for m in model.modules() if isinstance(m, (APoTWeight, APoTActivation))]
    with torch.no_grad():
        quantizers[0].alpha.fill_(-30.7)
        quantizers[1].alpha.fill_(2.5)
    objective.before_step(model)
    assert quantizers[0].alpha.item() == torch.tensor(ALPHA_MIN).item() and quantizers[1].alpha.item() == 2.5
    with torch.no_grad():
        quantizers[2].alpha.fill_(-1.0)
    objective.end_epoch(model, None, 0)
    assert all(q.alpha.item() > 0 for q in quantizers)
