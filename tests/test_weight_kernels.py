"""The fused CPU weight kernels equal the eager weight quantizers bit for bit: outputs, weight gradients and the
gradients of learned scales, on random weights that also hold each quantizer's decisive values (thresholds,
rounding ties, midpoints) with their float neighbours, in the contiguous and the channels-last layout."""
from collections.abc import Callable

import pytest
import torch
from helpers import require_kernels
from torch.utils._python_dispatch import TorchDispatchMode

from qrepro.methods.inq import FrozenPartition
from qrepro.methods.sq import SQWeight
from qrepro.quantizers import BWN, TTQ, TWN, APoTWeight, DoReFaWeight, SymmetricUniformWeight, cpu_kernels
from qrepro.quantizers.dorefa import FULL
from qrepro.quantizers.select import select_units

require_kernels()

SHAPE = (16, 8, 3, 3)


def weights(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(shape) * 0.05


def with_neighbours(values: torch.Tensor) -> torch.Tensor:
    values = values.float().flatten()
    return torch.cat([values, values.nextafter(values + 1), values.nextafter(values - 1)])


def holding(w: torch.Tensor, decisive: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``w`` with its first elements set to ``decisive(w)`` and their float neighbours. Where the decisive values
    depend on the weights (a threshold from mean|W|), writing them moves them a little: repeat until they hold."""
    w = w.clone().flatten()
    for _ in range(20):
        values = with_neighbours(decisive(w.view(SHAPE)))
        if torch.equal(w[: values.numel()], values):
            return w.view(SHAPE)
        w[: values.numel()] = values
    raise AssertionError("the decisive values did not settle")


def bitwise(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    """Equal bits (the layouts may differ: an eager per-filter quantizer returns a contiguous tensor)."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and torch.equal(a.contiguous().view(torch.int32), b.contiguous().view(torch.int32))


def upstream(w: torch.Tensor, layout: str) -> torch.Tensor:
    """A random gradient for ``w``'s output: in ``w``'s memory order ("same"), in the other 4-D one ("other"), or
    one value expanded over the shape ("expanded", what the output of ``.sum()`` receives)."""
    torch.manual_seed(1)
    if layout == "expanded":
        return torch.randn(()).expand(w.shape)
    grad = torch.randn_like(w)
    if layout == "other":
        other = torch.contiguous_format if w.is_contiguous(memory_format=torch.channels_last) else torch.channels_last
        grad = grad.contiguous(memory_format=other)
    return grad


def run(module: torch.nn.Module, w: torch.Tensor, kernels: str, monkeypatch,
        grad_layout: str = "same") -> tuple[torch.Tensor | None, ...]:
    """Output, dL/dW and the gradients of the module's own parameters, for a fixed upstream gradient."""
    monkeypatch.setenv("QREPRO_KERNELS", kernels)
    w = w.detach().clone().requires_grad_(True)
    grad = upstream(w, grad_layout)
    torch.manual_seed(2)  # SQ's roulette draws from here, the same in both runs
    out = module(w)
    out.backward(grad)
    result = (out.detach(), w.grad) + tuple(p.grad.clone() for p in module.parameters())
    module.zero_grad(set_to_none=True)
    return result


def same_as_eager(module: torch.nn.Module, w: torch.Tensor, monkeypatch, channels_last: bool,
                  grad_layout: str = "same") -> None:
    if channels_last:
        w = w.contiguous(memory_format=torch.channels_last)
    module.train()
    eager = run(module, w, "eager", monkeypatch, grad_layout)
    fused = run(module, w, "compiled", monkeypatch, grad_layout)
    assert len(eager) == len(fused)
    for e, f in zip(eager, fused):
        assert bitwise(e, f)


def twn_thresholds(variant: str) -> Callable[[torch.Tensor], torch.Tensor]:
    def decisive(w: torch.Tensor) -> torch.Tensor:
        spread = (w - w.mean()).abs().mean() if variant == "official" else w.abs().mean()
        delta = 0.7 * spread
        return torch.stack([delta, -delta, torch.zeros(()), -torch.zeros(())])
    return decisive


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_bwn_equals_eager(channels_last, seed, monkeypatch):
    w = weights(seed)
    w[0, 0, 0, :2] = torch.tensor([0.0, -0.0])  # sign(0) = +1 for both zeros
    w[3] = 0.0  # a filter of zeros: alpha = 0
    same_as_eager(BWN(), w, monkeypatch, channels_last)


@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_twn_equals_eager(variant, channels_last, seed, monkeypatch):
    w = weights(seed)
    w[5] = 0.0  # a filter with nothing kept: alpha = 0 / 1
    w = holding(w, twn_thresholds(variant))
    same_as_eager(TWN(variant), w, monkeypatch, channels_last)


@pytest.mark.parametrize("wn_grad", ["paper", "official"])
@pytest.mark.parametrize("scales", [(1.0, 1.0), (0.7, 1.9), (-0.3, 0.0)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_ttq_equals_eager(wn_grad, scales, channels_last, monkeypatch):
    module = TTQ(wn_grad=wn_grad)
    with torch.no_grad():
        module.positive_scale.fill_(scales[0])
        module.negative_scale.fill_(scales[1])
    w = holding(weights(), lambda w: torch.stack([module.delta(w), -module.delta(w), torch.zeros(())]))
    same_as_eager(module, w, monkeypatch, channels_last)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_uniform_equals_eager(bits, channels_last, monkeypatch):
    steps = 2 ** (bits - 1) - 1
    ties = (torch.arange(-steps, steps, dtype=torch.float64) + 0.5) / steps  # the rounding's ties, times max|w|
    w = holding(weights(), lambda w: (ties * w.abs().max().double())[:40])
    same_as_eager(SymmetricUniformWeight(bits), w, monkeypatch, channels_last)


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
@pytest.mark.parametrize("alpha", [0.5, 1.3, 3.0])
@pytest.mark.parametrize("channels_last", [False, True])
def test_apot_weight_equals_eager(bits, alpha, channels_last, monkeypatch):
    module = APoTWeight(bits, alpha_init=alpha)
    levels = module.levels().double()
    midpoints = ((levels[1:] + levels[:-1]) / 2 * alpha)[:12]

    def decisive(w: torch.Tensor) -> torch.Tensor:  # w_hat on a midpoint, and |w_hat| = alpha (the clipping edge)
        targets = torch.cat([midpoints, torch.tensor([alpha, -alpha], dtype=torch.float64)])
        return w.mean().double() + targets * w.std().double()

    same_as_eager(module, holding(weights(), decisive), monkeypatch, channels_last)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, FULL])
@pytest.mark.parametrize("ties", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_dorefa_weight_equals_eager(bits, ties, channels_last, monkeypatch):
    w = weights()
    top = w.abs().max()
    w.view(-1)[-ties:] = top * torch.tensor([1.0, -1.0, 1.0])[:ties]  # max|tanh W| reached once, or three times
    if bits != FULL:  # the rounding's ties, where tanh W / (2 max|tanh W|) + 1/2 = (j + 1/2) / (2^k - 1)
        steps = 2**bits - 1
        t = (((torch.arange(steps, dtype=torch.float64) + 0.5) / steps - 0.5) * 2 * top.double().tanh())[:30]
        w.view(-1)[: 3 * t.numel()] = with_neighbours(t.atanh())
    same_as_eager(DoReFaWeight(bits), w, monkeypatch, channels_last)


def test_dorefa_weight_of_zeros_equals_eager(monkeypatch):
    """max|tanh W| = 0 is clamped to the smallest normal float, which then gets no gradient."""
    for bits in (2, FULL):
        same_as_eager(DoReFaWeight(bits), torch.zeros(SHAPE), monkeypatch, False)


def test_apot_weight_rejects_nan_as_eager(monkeypatch):
    w = weights()
    w[0, 0, 0, 0] = float("nan")
    for kernels in ("eager", "compiled"):
        monkeypatch.setenv("QREPRO_KERNELS", kernels)
        with pytest.raises(FloatingPointError, match="not finite"):
            APoTWeight(2)(w)


@pytest.mark.parametrize("shape", [(64, 64, 3, 3), (16, 8, 3, 3), (10, 64), (3, 5)])
def test_apot_weight_std_equals_torch_std(shape, monkeypatch):
    """The kernels sum the squared deviations in another order than torch.std, and keep the result only where it
    is certain to be torch's (cpu_kernels.cpp, std_of): dL/dW = g / std W shows every bit of it, on weights of many
    scales and offsets."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        scale, offset = 10 ** (torch.rand((), generator=generator) * 6 - 4), torch.randn((), generator=generator)
        w = torch.randn(shape, generator=generator) * scale + offset * scale * 10
        eager, fused = run(APoTWeight(3), w, "eager", monkeypatch), run(APoTWeight(3), w, "compiled", monkeypatch)
        assert all(bitwise(e, f) for e, f in zip(eager, fused))


class Operators(TorchDispatchMode):
    """The names of the ATen operators called inside it, C++ callers included."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.name())
        return func(*args, **(kwargs or {}))


def test_apot_weight_calls_torch_std_only_where_its_own_sum_is_not_certain(monkeypatch):
    monkeypatch.setenv("QREPRO_KERNELS", "compiled")
    with Operators() as finite:
        APoTWeight(2)(weights())
    assert not any(name.startswith("aten::std") for name in finite.names)
    w = weights()
    w[0, 0, 0, 0] = float("nan")  # a NaN sum is not certain: torch.std decides, and the NaN is reported as eager
    with Operators() as not_finite, pytest.raises(FloatingPointError, match="not finite"):
        APoTWeight(2)(w)
    assert any(name.startswith("aten::std") for name in not_finite.names)


def half_frozen(scheme: str, bits: int, w: torch.Tensor) -> FrozenPartition:
    part = FrozenPartition(w, scheme, bits)
    part.set_scale_(w)
    part.freeze_(w, w.abs() >= w.abs().median())
    return part


@pytest.mark.parametrize("scheme, bits", [("inq", 3), ("elq", 2)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_frozen_partition_equals_eager(scheme, bits, channels_last, monkeypatch):
    w = weights()
    if channels_last:  # the buffers follow the weight's layout, as model.to(memory_format=...) leaves them
        w = w.contiguous(memory_format=torch.channels_last)
    same_as_eager(half_frozen(scheme, bits, w), w, monkeypatch, channels_last)


@pytest.mark.parametrize("base", [lambda: TWN("official"), lambda: BWN(), lambda: TTQ()])
@pytest.mark.parametrize("granularity", ["filter", "element"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_sq_hybrid_equals_eager(base, granularity, channels_last, monkeypatch):
    module = SQWeight(base(), 0.5, granularity=granularity)
    same_as_eager(module, weights(), monkeypatch, channels_last)
    assert 0 < module.mask.sum() < module.mask.numel()  # a real mix of quantized and float units


@pytest.mark.parametrize("grad_layout", ["other", "expanded"])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("make", [BWN, lambda: TWN("official"), lambda: TTQ(wn_grad="official"), lambda: APoTWeight(4),
                                  lambda: DoReFaWeight(2), lambda: SymmetricUniformWeight(8)],
                         ids=["bwn", "twn", "ttq", "apot", "dorefa", "uniform"])
def test_gradients_in_another_memory_order_equal_eager(make, channels_last, grad_layout, monkeypatch):
    """Where the upstream gradient is not in the weight's memory order, the scale gradients' sums follow the
    gradient's order, as in eager PyTorch: the backward takes the eager formula, with the same bits."""
    same_as_eager(make(), weights(), monkeypatch, channels_last, grad_layout)


def test_select_units_refuses_a_mask_of_another_shape():
    w = weights()
    with pytest.raises(ValueError, match="neither one per output filter nor one per element"):
        select_units(torch.ones(8, dtype=torch.bool), w, w)


def test_weight_quantizers_take_the_kernels(monkeypatch):
    """The comparisons above would pass trivially if the fused path never ran: check that it does."""
    monkeypatch.setenv("QREPRO_KERNELS", "compiled")
    calls = []
    fused = cpu_kernels.kernels()

    class Recording:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(fused, name)

    monkeypatch.setattr(cpu_kernels, "kernels", lambda: Recording())
    w = weights().requires_grad_(True)
    for module in (BWN(), TWN("paper"), TTQ(), SymmetricUniformWeight(8), APoTWeight(3), DoReFaWeight(2),
                   half_frozen("inq", 3, w)):
        module(w).backward(torch.randn_like(w))  # dense (the gradient of a sum is expanded: eager)
    assert {"bwn", "twn", "ttq", "uniform_forward", "uniform_backward", "apot_weight", "dorefa_weight_forward",
            "dorefa_weight_backward", "select_units", "select_units_backward"} <= set(calls)


def test_ttq_of_a_nan_weight_equals_eager(monkeypatch):
    """A NaN makes Delta = t max|W| NaN, in the kernels' integer maximum as in torch's: no weight is kept."""
    w = weights()
    w[2, 1, 0, 0] = float("nan")
    same_as_eager(TTQ(), w, monkeypatch, channels_last=False)
