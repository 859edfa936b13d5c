"""The fused CPU kernels equal the eager quantizers bit for bit: outputs, input gradients and clipping gradients."""
import re
from pathlib import Path

import pytest
import torch
from helpers import require_kernels

from qrepro.quantizers import APoTActivation, DoReFaActivation, cpu_kernels

require_kernels()


LOOPS = {"portable": 0, "avx2": 1, "avx512": 2}


@pytest.fixture(params=list(LOOPS))
def loops(request):
    """Each comparison runs the sixteen-lane AVX-512 loops, the eight-lane AVX2 ones and the portable ones (what a
    CPU without AVX2 runs), those the CPU has."""
    fused = cpu_kernels.kernels()
    if fused.use_loops(LOOPS[request.param]) != LOOPS[request.param]:
        pytest.skip(f"this CPU has no {request.param}")
    yield request.param
    fused.use_loops(max(LOOPS.values()))


def hard_inputs(scale: float, decisive: torch.Tensor) -> torch.Tensor:
    """Random activations (mostly post-ReLU, some negative, some beyond the clipping range) plus the values where
    rounding decides: ``decisive`` (the quantizer's midpoints or cell edges, in input units), every multiple of
    scale / 96 on [-scale, 2 scale], each with its float neighbours, signed zeros and infinities. 2 x 3 x 41 x 43
    elements, odd on purpose (a tail after the eight- and sixteen-lane loops)."""
    torch.manual_seed(0)
    grid = torch.cat([decisive.float(), torch.arange(-96, 193, dtype=torch.float32) * (scale / 96)])
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-38, -1e-38, 3e38])
    edges = torch.cat([grid, grid.nextafter(grid + 1), grid.nextafter(grid - 1), special])
    x = torch.randn(2 * 3 * 41 * 43) * scale
    x[: edges.numel()] = edges
    return x[torch.randperm(x.numel())].view(2, 3, 41, 43)


def bitwise(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.stride() == b.stride() and torch.equal(a.view(torch.int32), b.view(torch.int32))


def run(module: torch.nn.Module, x: torch.Tensor, kernels: str, monkeypatch,
        grad_layout: torch.memory_format | None = None) -> tuple[torch.Tensor, ...]:
    """Output, dL/dx and dL/dalpha for a fixed upstream gradient (in ``x``'s memory order, or ``grad_layout``)."""
    monkeypatch.setenv("QREPRO_KERNELS", kernels)
    x = x.detach().clone().requires_grad_(True)
    torch.manual_seed(1)
    grad = torch.randn_like(x) if grad_layout is None else torch.randn_like(x).contiguous(memory_format=grad_layout)
    out = module(x)
    out.backward(grad)
    alpha = getattr(module, "alpha", None)
    result = (out.detach(), x.grad) + ((alpha.grad.clone(),) if alpha is not None else ())
    module.zero_grad(set_to_none=True)
    return result


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
@pytest.mark.parametrize("alpha", [1.0, 2.7, 8.0])
@pytest.mark.parametrize("channels_last", [False, True])
def test_apot_activation_equals_eager(bits, alpha, channels_last, loops, monkeypatch):
    module = APoTActivation(bits, alpha_init=alpha)
    levels = module.levels().double()
    cell_edges = torch.arange(module.grid.cells + 1, dtype=torch.float64) / module.grid.resolution
    decisive = torch.cat([(levels[1:] + levels[:-1]) / 2, cell_edges]) * alpha
    x = hard_inputs(alpha, decisive).clamp(-3 * alpha, 3 * alpha)  # an infinite input makes eager's dL/dalpha NaN
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    eager, fused = run(module, x, "eager", monkeypatch), run(module, x, "compiled", monkeypatch)
    for e, f in zip(eager, fused):
        assert bitwise(e, f)


@pytest.mark.parametrize("channels_last", [False, True])
def test_apot_activation_gradient_in_another_memory_order_equals_eager(channels_last, monkeypatch):
    """The fused forward keeps the residual and the mask in the input's order; a gradient in the other order takes
    the eager products with them, with the same bits."""
    x = hard_inputs(2.0, torch.tensor([])).clamp(-6, 6)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    other = torch.contiguous_format if channels_last else torch.channels_last
    module = APoTActivation(4, alpha_init=2.0)
    eager, fused = (run(module, x, kernels, monkeypatch, grad_layout=other) for kernels in ("eager", "compiled"))
    assert all(torch.equal(e.contiguous().view(torch.int32), f.contiguous().view(torch.int32))
               for e, f in zip(eager, fused))


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_dorefa_activation_equals_eager(bits, channels_last, loops, monkeypatch):
    steps = 2**bits - 1
    x = hard_inputs(1.0, (torch.arange(steps, dtype=torch.float64) + 0.5) / steps)  # the rounding's ties
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    module = DoReFaActivation(bits)
    eager, fused = run(module, x, "eager", monkeypatch), run(module, x, "compiled", monkeypatch)
    for e, f in zip(eager, fused):
        assert bitwise(e, f)


def test_dorefa_activation_keeps_nan_as_eager(loops, monkeypatch):
    x = torch.tensor([float("nan"), 0.5, -0.0, 2.0])
    eager, fused = run(DoReFaActivation(2), x, "eager", monkeypatch), run(DoReFaActivation(2), x, "compiled",
                                                                          monkeypatch)
    assert all(bitwise(e, f) for e, f in zip(eager, fused))


@pytest.mark.parametrize("alpha", [8.0, float("nan")])
def test_apot_activation_rejects_nan_as_eager(alpha, loops, monkeypatch):
    x = torch.tensor([0.5, float("nan") if alpha == 8.0 else 1.0, 2.0])
    for kernels in ("eager", "compiled"):
        monkeypatch.setenv("QREPRO_KERNELS", kernels)
        with pytest.raises(FloatingPointError, match="not finite"):
            APoTActivation(2, alpha_init=alpha)(x)


def test_kernels_apply_only_to_dense_float32_cpu_tensors(monkeypatch):
    monkeypatch.setenv("QREPRO_KERNELS", "compiled")
    x = torch.rand(4, 3, 8, 8)
    assert cpu_kernels.for_tensors(x) is not None
    assert cpu_kernels.for_tensors(x.contiguous(memory_format=torch.channels_last)) is not None
    assert cpu_kernels.for_tensors(x[:, :, ::2]) is None  # strided
    assert cpu_kernels.for_tensors(x.double()) is None
    assert cpu_kernels.for_tensors(x, x.contiguous(memory_format=torch.channels_last)) is None  # two layouts
    monkeypatch.setenv("QREPRO_KERNELS", "eager")
    assert cpu_kernels.for_tensors(x) is None


def test_strided_and_float64_inputs_take_the_eager_path_with_equal_results(monkeypatch):
    x = hard_inputs(2.0, torch.tensor([])).clamp(-6, 6)[:, :, ::2]
    module = APoTActivation(3, alpha_init=2.0)
    eager, fused = run(module, x, "eager", monkeypatch), run(module, x, "compiled", monkeypatch)
    assert all(torch.equal(e, f) for e, f in zip(eager, fused))


def test_an_unknown_kernel_mode_is_refused(monkeypatch):
    monkeypatch.setenv("QREPRO_KERNELS", "fast")
    with pytest.raises(ValueError, match="auto, compiled, eager"):
        cpu_kernels.mode()


def test_a_failed_build_warns_under_auto_and_raises_under_compiled(monkeypatch):
    failure = RuntimeError("Ninja is required to load C++ extensions")
    monkeypatch.setattr(cpu_kernels, "_build", lambda: failure)
    monkeypatch.setenv("QREPRO_KERNELS", "compiled")
    with pytest.raises(RuntimeError, match="did not build: Ninja"):
        cpu_kernels.kernels()
    monkeypatch.setenv("QREPRO_KERNELS", "auto")
    cpu_kernels._warn_once.cache_clear()
    with pytest.warns(RuntimeWarning, match="Ninja is required"):
        assert cpu_kernels.kernels() is None


def test_only_the_ops_seam_reaches_the_compiled_kernels():
    """Every quantizer calls ``quantizers.ops`` with its eager formula; no other quantizer imports the kernels."""
    folder = Path(cpu_kernels.__file__).parent
    importers = sorted(path.name for path in folder.glob("*.py")
                       if re.search(r"^from \. import .*cpu_kernels|^import .*cpu_kernels", path.read_text(), re.M))
    assert importers == ["ops.py"]
