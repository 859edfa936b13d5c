"""GPFQ and MSQ: the alphabet, the greedy step and its error bound, vectorized against per-neuron, sparsity,
conv inputs, bad input, run records and the chapter."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_run_links_resolve, run_chapter, table_output
from torch import nn

from qrepro.report.tables import VERDICT
from qrepro import data as datasets
from qrepro import models
from qrepro.chapters import first_phase, gpfq
from qrepro.methods import get_method
from qrepro.methods.base import NotApplicable
from qrepro.methods.gpfq import GPFQ, MSQ, Alphabet, gpfq_layer, gpfq_layer_per_neuron, linspace_alphabet, radius
from qrepro.methods.gpfq_inputs import layer_inputs, patch_indices, unfold_patches
from qrepro.config import PTQConfig, Schedule, TrainConfig
from qrepro.nn import quantizable_layers
from qrepro.runs import get_or_run, recorded, store

RULES = [("none", 0.0), ("L1", 0.05), ("L0", 0.05)]


def problem(seed: int, neurons: int = 8, inputs: int = 64, samples: int = 32, noise: float = 0.0,
            dead_columns: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """W (uniform in [-1, 1]), Gaussian X and X~ = X + noise, in float64; the first ``dead_columns`` of X~ are 0."""
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(neurons, inputs, generator=g, dtype=torch.float64) * 2 - 1
    x = torch.randn(samples, inputs, generator=g, dtype=torch.float64)
    x_tilde = x + noise * torch.randn(samples, inputs, generator=g, dtype=torch.float64)
    x_tilde[:, :dead_columns] = 0
    return w, x, x_tilde


def fp_lenet(epochs: int = 1) -> TrainConfig:
    return TrainConfig(chapter="gpfq-test", data="digits", arch="lenet5",
                       schedule=Schedule(epochs=epochs, batch_size=128, lr=0.05))


def ptq(method: str = "gpfq", bits: int = 4, calibration: int = 64, **options) -> PTQConfig:
    return PTQConfig(chapter="gpfq-test", data="digits", arch="lenet5", model=fp_lenet(), method=method, bits=bits,
                     options=options, calibration=calibration)


# --- the alphabet -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", range(1, 9))
def test_alphabet_levels_follow_the_official_definition(bits):
    a = Alphabet(bits, 1.16, 0.5)
    k = 2 ** (bits - 1)
    levels = a.levels(torch.float64)
    assert len(levels) == 2**bits + 1 and levels[k] == 0  # 2^b + 1 levels with zero; b = 1 is ternary
    assert torch.allclose(levels, torch.arange(-k, k + 1, dtype=torch.float64) * 1.16 * 0.5 / k)
    assert levels[-1] == pytest.approx(1.16 * 0.5)  # the largest level is C R
    sparse = Alphabet(bits, 1.16, 0.5, "L0", 0.1).levels(torch.float64)
    assert len(sparse) == 2 * (k + 1) + 1 and sparse[k + 1] == 0
    assert sparse[k + 2] == pytest.approx(0.1) and sparse[-1] == pytest.approx(1.16 * 0.5)  # lam .. C R


@pytest.mark.parametrize("regularizer, lam", RULES)
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_rounding_lands_exactly_on_the_levels_and_is_nearest_when_not_clipped(bits, regularizer, lam):
    a = Alphabet(bits, 1.3, 0.4, regularizer, lam)
    z = torch.randn(5000, generator=torch.Generator().manual_seed(bits)) * 0.6  # beyond C R = 0.52 too
    q = a(z)
    assert torch.isin(q, a.levels()).all()  # exactly, in the same dtype
    assert a(torch.zeros(3)).eq(0).all()
    if regularizer == "none":
        inside = z.abs() <= a.levels()[-1]
        nearest = (z[inside, None] - a.levels()).abs().min(dim=1).values
        assert torch.allclose((z[inside] - q[inside]).abs(), nearest)
    assert (q.abs() <= a.levels()[-1]).all()  # clipped at the largest level


def test_radius_is_the_mean_over_neurons_of_the_largest_weight():
    w = torch.tensor([[0.5, -2.0, 1.0], [0.25, 0.0, -0.5]])
    assert radius(w) == pytest.approx((2.0 + 0.5) / 2)
    assert radius(torch.ones(2, 3, 3, 3)) == 1.0  # conv filters are flattened per output channel


def test_older_linspace_alphabet_is_documented_with_its_extra_zero():
    assert linspace_alphabet(1).tolist() == [-1.0, 0.0, 1.0]
    assert len(linspace_alphabet(2)) == 5 and len(linspace_alphabet(2, include_zero=False)) == 4


# --- the greedy step ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_each_step_is_greedy_and_the_per_step_error_bound_holds(noise):
    """The bound tested (derived from the update, the starting point of the error analysis in Lybrand & Saab
    2021 and Zhang, Zhou & Saab 2023): with v = u_{t-1} + w_t X_t and z_t = <X~_t, v> / ||X~_t||^2,

        ||u_t||^2 = ||P_perp v||^2 + (z_t - q_t)^2 ||X~_t||^2 <= ||P_perp v||^2 + (delta / 2)^2 ||X~_t||^2

    whenever z_t is not clipped (|z_t| <= (K + 1/2) delta); and for X~ = X, ||u_t||^2 <= ||u_{t-1}||^2 +
    (delta / 2)^2 ||X_t||^2, hence ||X w - X q|| <= (delta / 2) ||X||_F."""
    w, x, x_tilde = problem(0, neurons=6, inputs=200, samples=40, noise=noise)
    a = Alphabet.for_weights(w, 3, 2.0)
    q, u = gpfq_layer(w, x, x_tilde, a)
    for i in range(w.shape[0]):
        u_prev = torch.zeros(x.shape[0], dtype=torch.float64)
        for t in range(w.shape[1]):
            v = u_prev + w[i, t] * x[:, t]
            norm = x_tilde[:, t].dot(x_tilde[:, t])
            z = x_tilde[:, t].dot(v) / norm
            assert z.abs() <= (a.max_index + 0.5) * a.step  # no clipping: the bound covers every step
            assert (z - q[i, t]).abs() <= (z - a.levels(torch.float64)).abs().min() + 1e-12  # greedy: nearest
            u_t = v - q[i, t] * x_tilde[:, t]
            perp = v - z * x_tilde[:, t]
            assert u_t.square().sum() <= perp.square().sum() + (a.step / 2) ** 2 * norm + 1e-9
            if noise == 0:
                assert u_t.square().sum() <= u_prev.square().sum() + (a.step / 2) ** 2 * norm + 1e-9
            u_prev = u_t
        assert torch.allclose(u_prev, u[i])
        if noise == 0:
            assert u[i].norm() <= a.step / 2 * x.norm()


def test_gpfq_output_error_is_below_msq_on_average_and_decays_with_overparametrization():
    def mean_relative_errors(inputs: int) -> tuple[float, float]:
        gpfq_errors, msq_errors = [], []
        for seed in range(10):
            w, x, _ = problem(seed, neurons=8, inputs=inputs, samples=32)
            a = Alphabet.for_weights(w, 2, 1.0)
            _, u = gpfq_layer(w, x, x, a)
            reference = (x @ w.T).norm()
            gpfq_errors.append((u.norm() / reference).item())
            msq_errors.append(((x @ (w - a(w)).T).norm() / reference).item())
        return sum(gpfq_errors) / 10, sum(msq_errors) / 10

    small, large = mean_relative_errors(32), mean_relative_errors(2048)
    assert small[0] < small[1] and large[0] < large[1]
    assert large[0] < 0.25 * small[0]  # GPFQ: relative error falls with the number of weights d
    assert large[1] == pytest.approx(small[1], rel=0.1)  # MSQ: it does not


@pytest.mark.parametrize("regularizer, lam", RULES)
def test_vectorized_update_equals_the_per_neuron_loop(regularizer, lam):
    w, x, x_tilde = problem(3, neurons=12, inputs=50, samples=30, noise=0.2, dead_columns=4)
    a = Alphabet.for_weights(w, 3, 1.16, regularizer, lam)
    q, u = gpfq_layer(w, x, x_tilde, a)
    q_ref, u_ref = gpfq_layer_per_neuron(w, x, x_tilde, a)
    assert (q - q_ref).abs().max() <= 1e-5 and (u - u_ref).abs().max() <= 1e-5
    assert torch.allclose(u, w @ x.T - q @ x_tilde.T)  # U is the output error, N x m
    assert (q[:, :4] == 0).all()  # X~_t = 0: argument 0, weight 0


def test_lambda_increases_the_share_of_zeros():
    w, x, x_tilde = problem(4, neurons=16, inputs=256, samples=64, noise=0.1)

    def zeros(regularizer: str, lam: float) -> float:
        q, _ = gpfq_layer(w, x, x_tilde, Alphabet.for_weights(w, 4, 1.16, regularizer, lam))
        return (q == 0).double().mean().item()

    step = Alphabet.for_weights(w, 4, 1.16).step
    plain = zeros("none", 0.0)
    l1 = [zeros("L1", lam) for lam in (0.02, 0.05, 0.1, 0.2)]
    assert plain < l1[0] and l1 == sorted(l1)  # soft thresholding: more zeros for every lam > 0
    assert zeros("L0", 0.75 * step) > plain  # hard thresholding adds zeros once lam > delta / 2 ...
    assert zeros("L0", 0.1 * step) < plain  # ... and removes some below it (its smallest level is lam)


# --- the inputs of a layer ----------------------------------------------------------------------------------

def test_unfolded_conv_inputs_reproduce_the_conv_at_non_overlapping_positions():
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False)
    x = torch.randn(2, 3, 9, 9)
    patches = unfold_patches(x, conv)  # B x L x 27, stride = kernel size whatever the conv's stride
    expected = F.conv2d(x, conv.weight, stride=3, padding=1).flatten(2).transpose(1, 2)
    assert torch.allclose(patches @ conv.weight.flatten(1).T, expected, atol=1e-5)
    own = unfold_patches(x, conv, "conv")
    assert torch.allclose(own @ conv.weight.flatten(1).T, conv(x).flatten(2).transpose(1, 2), atol=1e-5)


def test_patch_subsampling_keeps_int_pl_plus_one_per_image_the_same_for_both_networks():
    rows = patch_indices(4, 36, 0.25, torch.Generator().manual_seed(0))
    per_image = rows.view(4, -1)
    assert per_image.shape[1] == int(0.25 * 36 + 1)
    assert all(((r >= i * 36) & (r < (i + 1) * 36)).all() for i, r in enumerate(per_image))
    assert patch_indices(2, 9, 1.0, torch.Generator()).numel() == 18

    torch.manual_seed(0)
    net = models.create("resnet20", num_classes=10, in_channels=1).eval()
    partly = copy.deepcopy(net)
    images = torch.randn(8, 1, 8, 8)
    x, x_tilde = layer_inputs(net, partly, "layers.0.0.conv1", images, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(x, x_tilde) and x.shape == (8 * int(0.25 * 9 + 1), 16 * 9)
    with torch.no_grad():
        partly.conv1.weight.mul_(0.5)  # "quantize" the first layer: only the second network changes
    x2, x2_tilde = layer_inputs(net, partly, "layers.0.0.conv1", images, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(x2, x) and not torch.allclose(x2_tilde, x)


def test_kernel_entries_that_only_meet_padding_are_zeroed_with_non_overlapping_patches():
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    images = torch.relu(torch.randn(64, 4, 2, 2)) + 0.1  # a 2x2 input, as in the last stage
    model = nn.Sequential(conv)
    w = conv.weight.detach().flatten(1).double()
    for patches, all_zero in (("kernel", True), ("conv", False)):
        x, x_tilde = layer_inputs(model, model, "0", images, 1.0, torch.Generator().manual_seed(0), patches)
        q, _ = gpfq_layer(w, x.double(), x_tilde.double(), Alphabet.for_weights(w, 8, 1.16))
        first_row_and_column = q.view(6, 4, 3, 3)[:, :, [0, 0, 0, 1, 2], [0, 1, 2, 0, 0]]
        assert (first_row_and_column == 0).all() == all_zero


# --- methods, records and bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("method, options", [("gpfq", {"scalar": 1.16}), ("gpfq", {"regularizer": "L1", "lam": 0.02}),
                                             ("msq", {"scalar": 1.5})])
def test_every_quantized_layer_lies_on_its_alphabet(method, options):
    data = datasets.load("digits")
    torch.manual_seed(0)
    model = models.create("lenet5", num_classes=10, in_channels=1, image_size=8)
    original = {name: layer.weight.detach().clone() for name, layer in quantizable_layers(model).items()}
    config = ptq(method, bits=3, calibration=0 if method == "msq" else 64, **options)
    get_method(method).check(config)
    summary = get_method(method).quantize(model, data, config, torch.device("cpu"))
    assert list(summary["layers"]) == list(original)  # every Conv2d and Linear, first and last included
    settings = {"regularizer": "none", "lam": 0.0, **options}
    for name, layer in quantizable_layers(model).items():
        a = Alphabet.for_weights(original[name], 3, settings.get("scalar", 1.16), settings["regularizer"],
                                 settings["lam"])
        assert torch.isin(layer.weight.detach(), a.levels()).all(), name
    assert 0 < summary["sparsity"] < 1


def test_post_training_runs_are_recorded_once_and_reproducible(runs_root, monkeypatch):
    calls = []
    original = store.execute_ptq
    monkeypatch.setattr(store, "execute_ptq", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = get_or_run(ptq(scalar=1.16), progress=False)
    assert get_or_run(ptq(scalar=1.16), progress=False) == first and calls == [1]
    assert first["summary"]["layers"]["features.0"]["samples"] == 64 * int(0.25 * 4 + 1)
    (runs_root / "gpfq-test" / first["run_id"] / "record.json").unlink()
    rerun = get_or_run(ptq(scalar=1.16), progress=False)  # the same config again: the same calibration draws
    assert calls == [1, 1] and rerun["top1"] == first["top1"] and rerun["summary"] == first["summary"]


@pytest.mark.parametrize("config, message", [
    (ptq(bits=9), "supports bits"), (ptq(bits=0), "supports bits"), (ptq(scalar=0), "scalar"),
    (ptq(scalar=-1.0), "scalar"), (ptq(scalar=math.inf), "scalar"), (ptq(regularizer="L1", lam=-0.1), "lam"),
    (ptq(regularizer="L2"), "valid: none, L1, L0"), (ptq(lam=0.1), "no effect without a regularizer"),
    (ptq(calibration=0), "needs calibration data"), (ptq(retain_rate=0.0), "retain_rate"),
    (ptq(patches="all"), "valid: kernel, conv"), (ptq(colour="red"), "colour"),
    (ptq("msq", calibration=64), "calibration = 0"), (ptq("msq", calibration=0, scalar=0.0), "scalar"),
])
def test_bad_options_fail_clearly(config, message):
    with pytest.raises(ValueError, match=message):
        get_method(config.method).check(config)


def test_bad_models_and_data_fail_clearly():
    data = datasets.load("digits")
    with pytest.raises(ValueError, match="no Conv2d or Linear layer"):
        GPFQ().quantize(nn.Sequential(nn.Flatten()), data, ptq(), torch.device("cpu"))
    with pytest.raises(ValueError, match="no Conv2d or Linear layer"):
        MSQ().quantize(nn.Sequential(nn.ReLU()), data, ptq("msq", calibration=0), torch.device("cpu"))
    lenet = models.create("lenet5", num_classes=10, in_channels=1, image_size=8)
    with pytest.raises(ValueError, match="only 1437 training images"):
        GPFQ().quantize(lenet, data, ptq(calibration=5000), torch.device("cpu"))
    with pytest.raises(ValueError, match="grouped convolutions"):
        GPFQ().quantize(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), data, ptq(), torch.device("cpu"))
    with pytest.raises(ValueError, match="lam < C R"):
        Alphabet(4, 1.0, 0.05, "L0", 0.1)
    with pytest.raises(ValueError, match="radius must be > 0"):
        Alphabet.for_weights(torch.zeros(2, 2), 4, 1.0)


@pytest.mark.parametrize("name, value, error", [
    ("bits", 9, ValueError), ("bits", "4", TypeError), ("scalar", 0.0, ValueError), ("scalar", "big", TypeError),
    ("lam", "-0.1", ValueError), ("lam", "0.1,x", ValueError), ("batch_size", -1, ValueError),
    ("profile", "huge", ValueError), ("sweeps", "bits,colour", ValueError), ("seeds", 0, ValueError),
])
def test_chapter_parameters_of_the_wrong_type_or_range(name, value, error):
    with pytest.raises(error, match=name):
        first_phase("gpfq", **{name: value})


def test_sweep_lists_each_run_once_with_the_seed_grid():
    configs = first_phase("gpfq")
    assert configs[0].kind == "train" and configs[0].arch == "resnet20"
    assert len({c.run_id for c in configs}) == len(configs)
    scalars = {c.options["scalar"] for c in configs[1:] if c.bits == 4 and c.method == "msq"}
    assert scalars == {*gpfq.SCALARS, 1.16} and len(gpfq.SCALARS) == 21 and gpfq.SCALARS[-1] == 2.0
    paper = first_phase("gpfq", profile="paper", sweeps="none")
    assert paper[0].arch == "resnet18" and paper[0].arch_options == {"maxpool": True}
    assert [c.calibration for c in paper[1:]] == [256, 0]  # the seed's 256 images per layer; MSQ uses none


# --- the chapter ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_chapter_runs_under_papermill_on_smoke_with_every_bit_width(runs_root, tmp_path, monkeypatch):
    # one OpenMP thread in the kernel: on a shared 2-core machine every multi-threaded op of the training
    # and evaluation loops can wait a scheduler slice for its second thread (2 epochs: 59 s against 5.5 s)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = run_chapter("gpfq", tmp_path, profile="smoke", epochs=2, batch_size=32, sweeps="bits")
    rows = table_output(notebook, "gpfq_report.bit_sweep_table(")
    assert sorted((int(r["bits"]), r["method"]) for r in rows) == [(b, m) for b in range(1, 9) for m in ("gpfq", "msq")]
    assert all(r["data_set"] == "digits" and r["profile"] == "smoke" for r in rows)
    assert [r["seed (CIFAR-10 ResNet-18) top-1"] for r in rows if r["method"] == "gpfq"][3] == "91.89"
    assert all(r[VERDICT] == "n/a: digits is not cifar10" for r in rows)
    headline = table_output(notebook, "gpfq_report.headline_table(")
    assert sorted(r["method"] for r in headline) == ["gpfq", "msq"]
    assert len(recorded("gpfq")) == 1 + 16  # the model and the bit sweep (which holds the headline runs)
    assert assert_run_links_resolve(notebook) == {r["run_id"] for r in recorded("gpfq") if r["config"]["kind"] == "ptq"}


def test_a_sweep_that_keeps_going_leaves_out_an_L0_level_the_model_cannot_meet(runs_root, one_thread):
    impossible = ptq(regularizer="L0", lam=100.0)  # above C R of every layer: no L0 alphabet exists
    with pytest.raises(NotApplicable, match="lam < C R"):
        get_or_run(impossible, progress=False)
    with pytest.raises(RuntimeError, match="1 run"):
        store.get_or_run_all([fp_lenet(), impossible, ptq()], keep_going=True, progress=False)
    assert store.find_record(ptq()) is not None and store.find_record(impossible) is None
