"""BWN, TWN, TTQ, INQ and ELQ quantizers: level sets, scales, thresholds and the gradients the papers state."""
import pytest
import torch
from torch import nn

from qrepro.quantizers import BWN, TTQ, TWN, bwn, elq_scale, elq_ternary, inq_exponents, inq_project, pow2_levels, twn


def rows(w):
    return w.reshape(w.shape[0], -1)


def test_bwn_lies_on_plus_minus_alpha_per_filter():
    torch.manual_seed(0)
    w = torch.randn(8, 3, 3, 3)
    w[0, 0, 0, 0] = 0.0  # sign(0) = +1, as the official code
    q = bwn(w)
    alpha = rows(w).abs().mean(1)
    for i in range(8):
        assert set(rows(q)[i].unique().tolist()) <= {alpha[i].item(), -alpha[i].item()}
    assert torch.equal(q.sign(), torch.where(w >= 0, 1.0, -1.0))
    assert q[0, 0, 0, 0] == alpha[0]


def test_bwn_gradient_is_straight_through_and_output_exact():
    w = torch.randn(4, 10, requires_grad=True)
    out = BWN()(w)
    assert torch.equal(out, bwn(w.detach()))  # bit-exact, not w + (q - w)
    g = torch.randn(4, 10)
    out.backward(g)
    assert torch.equal(w.grad, g)  # no |w| <= 1 mask, nothing through alpha


def test_twn_paper_hand_computed():
    w = torch.tensor([[1.0, -0.1, 0.5], [-2.0, 0.2, 0.0]])
    # mean|W| = 3.8 / 6, Delta = 0.7 * 0.6333 = 0.4433: kept 1.0, 0.5, -2.0; alpha = 3.5 / 3
    alpha = torch.tensor([1.0, 0.5, 2.0]).mean()
    q = twn(w, "paper")
    assert torch.equal(q, torch.stack([torch.stack([alpha, 0 * alpha, alpha]),
                                       torch.stack([-alpha, 0 * alpha, 0 * alpha])]))
    assert alpha.item() == pytest.approx(3.5 / 3)


def test_twn_official_uses_a_mean_centred_delta_and_a_scale_per_channel():
    w = torch.tensor([[1.0, 0.9, 0.8, 0.7], [0.5, 0.6, 0.4, 0.3]])
    # mean 0.65, mean|w - 0.65| = 0.2, Delta = 0.14: every weight kept; alpha per channel 0.85 and 0.45
    q = twn(w, "official")
    assert torch.allclose(q, torch.tensor([[0.85] * 4, [0.45] * 4]))
    for i in range(2):
        assert len(q[i].unique()) == 1 and q[i, 0] == w[i].mean()
    # the TWN paper's Delta = 0.7 * mean|W| = 0.455 drops 0.4 and 0.3, with one alpha for the layer
    assert torch.equal(twn(w, "paper") != 0, w > 0.455)


def test_twn_channel_without_kept_weights_is_zero():
    w = torch.tensor([[5.0, -5.0, 4.0], [0.01, -0.01, 0.0]])
    assert torch.equal(twn(w, "official")[1], torch.zeros(3))


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_twn_levels_and_straight_through(variant):
    torch.manual_seed(1)
    w = torch.randn(16, 8, 3, 3, requires_grad=True)
    out = TWN(variant)(w)
    assert torch.equal(out, twn(w.detach(), variant))
    per_row = rows(out.detach())
    for r in per_row:
        assert len(r.abs().unique()) <= 2  # {0, alpha}
    out.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_twn_rejects_unknown_variant():
    with pytest.raises(ValueError, match="paper, official"):
        TWN("caffe")


def test_ttq_levels_and_threshold():
    w = torch.tensor([0.9, -1.0, 0.04, -0.05, 0.051, -0.3])
    quantizer = TTQ(threshold=0.05)  # Delta = 0.05 * 1.0
    with torch.no_grad():
        quantizer.positive_scale.fill_(0.7)
        quantizer.negative_scale.fill_(1.3)
    out = quantizer(w).detach()
    wp, wn = quantizer.positive_scale.item(), quantizer.negative_scale.item()
    assert out.tolist() == [wp, -wn, 0.0, 0.0, wp, -wn]  # exactly {-W_n, 0, W_p}; 0.05 is not above Delta


@pytest.mark.parametrize("wn_grad, sign", [("paper", 1.0), ("official", -1.0)])
def test_ttq_gradients_as_stated(wn_grad, sign):
    """dL/dw = W_p g on I_p, g on I_0, W_n g on I_n; dL/dW_p = sum_p g; dL/dW_n = +-sum_n g."""
    w = torch.tensor([0.9, -1.0, 0.01, -0.5, 0.3], requires_grad=True)
    quantizer = TTQ(threshold=0.05, wn_grad=wn_grad)
    with torch.no_grad():
        quantizer.positive_scale.fill_(2.0)
        quantizer.negative_scale.fill_(3.0)
    g = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    quantizer(w).backward(g)
    assert w.grad.tolist() == [2.0 * 1, 3.0 * 2, 3.0, 3.0 * 4, 2.0 * 5]
    assert quantizer.positive_scale.grad.item() == 1.0 + 5.0
    assert quantizer.negative_scale.grad.item() == sign * (2.0 + 4.0)


def test_ttq_official_sign_is_the_exact_derivative():
    torch.manual_seed(2)
    w = torch.randn(50)
    quantizer = TTQ(wn_grad="official")
    delta = quantizer.delta(w)
    wp, wn = torch.tensor(1.5, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    g = torch.randn(50)
    (torch.where(w > delta, wp, torch.where(w < -delta, -wn, torch.zeros(()))) * g).sum().backward()
    quantizer(w).backward(g)
    # autodiff of w^t = -W_n on I_n is -sum g; the default scales are 1, the derivative does not depend on them
    assert quantizer.negative_scale.grad.item() == pytest.approx(wn.grad.item())
    assert quantizer.positive_scale.grad.item() == pytest.approx(wp.grad.item())


def test_ttq_paper_sign_keeps_equal_scales_equal_under_batch_norm():
    """Behind batch norm the loss ignores a common scale: sum_p g = sum_n g, so the paper's +sum moves W_p and
    W_n by the same amount and the official -sum moves them apart."""
    torch.manual_seed(3)
    x, target = torch.randn(32, 4, 6, 6), torch.randn(32, 5, 6, 6)
    weight = torch.randn(5, 4, 3, 3)
    grads = {}
    for wn_grad in ("paper", "official"):
        quantizer, bn = TTQ(wn_grad=wn_grad), nn.BatchNorm2d(5)
        out = bn(nn.functional.conv2d(x, quantizer(weight), padding=1))
        ((out - target) ** 2).mean().backward()
        grads[wn_grad] = quantizer.positive_scale.grad.item(), quantizer.negative_scale.grad.item()
    assert grads["paper"][0] == pytest.approx(grads["paper"][1], rel=1e-3, abs=1e-7)
    assert grads["official"][0] == pytest.approx(-grads["official"][1], rel=1e-3, abs=1e-7)
    assert abs(grads["paper"][0]) > 1e-4


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.05, "0.05", True, None])
def test_ttq_refuses_invalid_thresholds(threshold):
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        TTQ(threshold=threshold)


def test_ttq_refuses_unknown_gradient_convention():
    with pytest.raises(ValueError, match="paper, official"):
        TTQ(wn_grad="tf")


@pytest.mark.parametrize("max_abs, bits, expected", [(1.0, 3, (0, -1)), (1.0, 5, (0, -7)), (0.2, 3, (-2, -3)),
                                                     (0.74, 4, (-1, -4)), (0.76, 2, (0, 0))])
def test_inq_exponents(max_abs, bits, expected):
    """n1 = floor(log2(4 s / 3)), n2 = n1 + 1 - 2^(b-1)/2."""
    assert inq_exponents(max_abs, bits) == expected
    n1, _ = expected
    assert 2.0**n1 <= 4 * max_abs / 3 < 2.0 ** (n1 + 1)


def test_inq_refuses_bad_bits():
    with pytest.raises(ValueError, match="2..8"):
        inq_exponents(1.0, 1)


def test_inq_projection_is_nearest_level_and_the_paper_rule_inside_the_range():
    torch.manual_seed(4)
    w = torch.randn(4000) * 0.3
    n1, n2 = inq_exponents(w.abs().max().item(), 5)
    levels = pow2_levels(n1, n2).float()
    assert levels.tolist() == sorted([0.0] + [s * 2.0**e for e in range(n2, n1 + 1) for s in (1, -1)])
    q = inq_project(w, n1, n2)
    assert torch.isin(q, levels).all()
    assert torch.equal(q, levels[(w[:, None] - levels[None]).abs().argmin(1)])
    # the paper: beta sgn(w) if (alpha + beta)/2 <= |w| < 3 beta / 2 for adjacent alpha < beta in {0} u P+
    magnitudes = [0.0] + [2.0**e for e in range(n2, n1 + 1)]
    for value, quantized in zip(w.abs().tolist(), q.abs().tolist()):
        rule = 0.0
        for low, beta in zip(magnitudes, magnitudes[1:]):
            if (low + beta) / 2 <= value < 1.5 * beta:
                rule = beta
        assert quantized == rule
    assert q.abs().max() == 2.0**n1  # the largest weight maps to 2^n1


def test_elq_ternary():
    w = torch.tensor([0.3, -0.6, 0.05, 2.0, -0.1])
    alpha = elq_scale(w)
    assert alpha.item() == pytest.approx(w.abs().mean().item() + 0.05 * 2.0)
    q = elq_ternary(w, alpha)
    a = alpha.item()
    assert q.tolist() == [0.0, -a, 0.0, a, 0.0]  # alpha = 0.61 + 0.1; threshold 0.355: 0.3 is below it
