"""GPFQ, greedy path-following post-training quantization, and MSQ (round to nearest) on the same alphabet.

Lybrand & Saab, "A Greedy Algorithm for Quantizing Neural Networks", JMLR 22 (2021); Zhang, Zhou & Saab,
"Post-training Quantization for Neural Networks with Provable Guarantees", SIAM J. Math. Data Sci. (2023),
arXiv 2201.11113, with its sparsity-promoting variants; as the official code runs them
(YixuanSeanZhou/Quantized_Neural_Nets src/quantize_neural_net.py and src/step_algorithm.py).

**The update.** A layer has weights W (N neurons x d inputs), analog inputs X (m x d, the full-precision
network's) and X~ (m x d, the network whose earlier layers are already quantized). All N neurons walk
the d input dimensions together; U (N x m) holds one error vector per neuron, starting at 0:

    z_t = <X~_t, u_{t-1} + w_t X_t> / ||X~_t||^2   (0 when X~_t = 0),   q_t = Q(z_t),
    u_t = u_{t-1} + w_t X_t - q_t X~_t,

so that u_d = X w - X~ q is the neuron's output error; the layer's relative error is ||U||_F / ||X W^T||_F.
q_t is the level that best absorbs the error so far: with an unsaturated alphabet it minimizes
||u_{t-1} + w_t X_t - p X~_t|| over the levels p.

**The alphabet** (official code since 2023): K = 2^(b-1), levels k * delta for k = -K..K (2^b + 1 levels,
zero included, so b = 1 is ternary), delta = C R / K with R = mean over neurons of max_j |W_ij| and C the
``scalar`` (default 1.16, the official ResNet-18 value). Q rounds to the nearest level, halves up, and clips:
Q(z) = sign(z) delta min(|floor(z / delta + 1/2)|, K). The code behind the 2022 ImageNet logs used
linspace(-1, 1, 2^b) (plus 0) times C R instead (``linspace_alphabet``); the JMLR code the same with R the
median |W| of the layer.

**Sparse GPFQ** (official ``_soft_thresholding_msq`` / ``_hard_thresholding_msq``), lambda in weight units:
- L1: Q(s_lam(z)) with s_lam(z) = sign(z) max(|z| - lam, 0); same levels.
- L0: 0 when |z| <= lam, else sign(z) (lam + delta' min(|floor((|z| - lam) / delta' + 1/2)|, K)) with
  delta' = (C R - lam) / K: the levels are 0 and +-(lam + k delta'), k = 0..K.
The code thresholds the normalized argument z with lam itself. The penalized step
min_p ||u_{t-1} + w_t X_t - p X~_t||^2 / 2 + lam |p| would threshold z at lam / ||X~_t||^2 instead; whether
the paper scales lam so could not be checked against its text. We follow the code.

**MSQ** (memoryless scalar quantization) rounds every weight to the nearest level of the same alphabet.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import PTQConfig
from ..data import ImageData
from ..nn import quantizable_layers
from ..threads import torch_threads
from .base import NotApplicable, Options, PTQMethod
from .gpfq_inputs import PATCHES, calibration_batches, layer_inputs

BITS = tuple(range(1, 9))
REGULARIZERS = ("none", "L1", "L0")
DEFAULT_SCALAR = 1.16  # official default, tuned for ImageNet ResNet-18


def radius(weight: torch.Tensor) -> float:
    """R = mean over neurons (rows) of max_j |W_ij|: the official ``percentile`` 1."""
    return weight.detach().abs().flatten(1).amax(dim=1).mean().item()


@dataclass(frozen=True)
class Alphabet:
    """The levels of one layer and the rule Q that maps an argument z onto them (see the module docstring)."""

    bits: int
    scalar: float
    radius: float
    regularizer: str = "none"
    lam: float = 0.0

    def __post_init__(self) -> None:
        if self.bits not in BITS:
            raise ValueError(f"bits must be one of {BITS}, got {self.bits}")
        if self.regularizer not in REGULARIZERS:
            raise ValueError(f"unknown regularizer {self.regularizer!r}; valid: {', '.join(REGULARIZERS)}")
        if not self.radius > 0:
            raise ValueError(f"alphabet radius must be > 0 (a layer of all-zero weights?), got {self.radius}")
        if self.step <= 0:
            raise NotApplicable(f"L0 needs lam < C R = {self.scalar * self.radius:.4g} (its step is (C R - lam) / K); "
                             f"got lam = {self.lam}")

    @classmethod
    def for_weights(cls, weight: torch.Tensor, bits: int, scalar: float, regularizer: str = "none",
                    lam: float = 0.0) -> Alphabet:
        return cls(bits, scalar, radius(weight), regularizer, lam)

    @property
    def max_index(self) -> int:
        """K = 2^(b-1): the largest level index."""
        return 2 ** (self.bits - 1)

    @property
    def step(self) -> float:
        """delta = C R / K, or delta' = (C R - lam) / K for L0."""
        step = self.scalar * self.radius / self.max_index
        return step - self.lam / self.max_index if self.regularizer == "L0" else step

    def levels(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
        """Every value a quantized weight can take, sorted, computed as ``__call__`` computes them."""
        k = torch.arange(self.max_index + 1, dtype=dtype, device=device)
        if self.regularizer == "L0":
            positive = self.lam + self.step * k
            return torch.cat([-positive.flip(0), torch.zeros(1, dtype=dtype, device=device), positive])
        positive = self.step * k[1:]
        return torch.cat([-positive.flip(0), torch.zeros(1, dtype=dtype, device=device), positive])

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """Q(z), elementwise, with the official code's arithmetic (ties of the signed argument round up).

        sign(z) min(|floor(z / delta + 1/2)|, K) equals clamp(floor(z / delta + 1/2), -K, K), computed so.
        """
        k = self.max_index
        if self.regularizer == "L0":
            shrunk = torch.sign(z) * (z.abs() - self.lam).clamp(min=0)
            index = torch.floor(shrunk / self.step + 0.5).abs().clamp(max=k)
            return torch.sign(z) * (self.lam + self.step * index) * (z.abs() > self.lam)
        if self.regularizer == "L1":
            z = torch.sign(z) * (z.abs() - self.lam).clamp(min=0)
        return torch.floor(z / self.step + 0.5).clamp_(-k, k).mul_(self.step)


def linspace_alphabet(bits: int, include_zero: bool = True) -> torch.Tensor:
    """The alphabet of the official code before 2023 (and of the JMLR code), in units of C R:
    linspace(-1, 1, 2^b), optionally with 0 added. Shown in the chapter; GPFQ here uses ``Alphabet``."""
    levels = torch.linspace(-1, 1, 2**bits, dtype=torch.float64)
    return torch.cat([levels, torch.zeros(1, dtype=torch.float64)]).unique() if include_zero else levels


# GPFQ runs on one CPU thread (``torch_threads(GPFQ_THREADS, device)``). On a CPU it is thousands of small
# operations: per step of the update a few BLAS-2 calls (one synchronization of the threads each, d steps per
# layer), per layer an unfolding and two partial forward passes. On a busy CPU, where a thread waits for a
# descheduled sibling, this made one smoke-profile run (ResNet-20, digits) 25-45x slower with 2 threads than with 1
# (46-80 s against 1.7-2 s, 2 cores shared with other jobs); on an idle machine one thread gives up at most the
# parallel share of large layers.
GPFQ_THREADS = 1


@torch.no_grad()
def gpfq_layer(weight: torch.Tensor, analog: torch.Tensor, quantized: torch.Tensor,
               alphabet: Alphabet) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize the N x d ``weight`` from analog inputs X and quantized-network inputs X~ (both m x d), all
    neurons at once. Returns (Q, U): Q (N x d) on the alphabet and U = W X^T - Q X~^T (N x m).

    The argument <X~_t, u_{t-1} + w_t X_t> is computed as U X~_t + w_t <X_t, X~_t>, and the two rank-one
    updates of U follow the rounding; otherwise the arithmetic is the module docstring's. On a CPU the loop
    runs on one thread (see ``GPFQ_THREADS``).
    """
    if weight.dim() != 2 or analog.shape != quantized.shape or analog.shape[1] != weight.shape[1]:
        raise ValueError(f"need W (N x d) and X, X~ (m x d); got {tuple(weight.shape)}, {tuple(analog.shape)}, "
                         f"{tuple(quantized.shape)}")
    n, d = weight.shape
    columns, q_columns = analog.T.contiguous(), quantized.T.contiguous()  # row t is X_t, X~_t
    norms = (q_columns * q_columns).sum(dim=1)
    w_cross = weight * (columns * q_columns).sum(dim=1)  # column t: w_t <X_t, X~_t>
    nonzero = (norms > 0).tolist()  # one host sync, not one per step
    u = weight.new_zeros(n, analog.shape[0])
    q = weight.new_zeros(n, d)  # where X~_t = 0 the argument is 0, and Q(0) = 0 for every rule
    with torch_threads(GPFQ_THREADS, weight.device):
        for t in range(d):
            if nonzero[t]:
                q_t = alphabet(torch.addmv(w_cross[:, t], u, q_columns[t]).div_(norms[t]))
                q[:, t] = q_t
                u.addr_(q_t, q_columns[t], alpha=-1)
            u.addr_(weight[:, t], columns[t])
    return q, u


def gpfq_layer_per_neuron(weight: torch.Tensor, analog: torch.Tensor, quantized: torch.Tensor,
                          alphabet: Alphabet) -> tuple[torch.Tensor, torch.Tensor]:
    """The GPFQ update written plainly, one neuron (row of W) at a time, as the papers state it:
    u <- u + w_t X_t; q_t = Q(<X~_t, u> / ||X~_t||^2) (0 if X~_t = 0); u <- u - q_t X~_t. The reference that
    ``gpfq_layer`` is tested and benchmarked against; far too slow to quantize a network with."""
    columns, q_columns = analog.T.contiguous(), quantized.T.contiguous()
    q = torch.zeros_like(weight)
    u_all = weight.new_zeros(weight.shape[0], analog.shape[0])
    for i in range(weight.shape[0]):
        u = u_all[i]
        for t in range(weight.shape[1]):
            u += weight[i, t] * columns[t]
            norm = q_columns[t].dot(q_columns[t])
            if norm > 0:
                q[i, t] = alphabet(q_columns[t].dot(u) / norm)
                u -= q[i, t] * q_columns[t]
    return q, u_all


def sparsity(model: nn.Module) -> float:
    """Share of zeros among the weights and biases of all Conv2d and Linear layers (the official
    ``eval_sparsity``, which the seed's logs report)."""
    zeros = total = 0
    for layer in quantizable_layers(model).values():
        for p in (layer.weight, layer.bias):
            if p is not None:
                zeros += int((p == 0).sum())
                total += p.numel()
    return zeros / total


def _layers_to_quantize(model: nn.Module) -> dict[str, nn.Module]:
    layers = quantizable_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Conv2d or Linear layer to quantize")
    grouped = [name for name, layer in layers.items() if isinstance(layer, nn.Conv2d) and layer.groups != 1]
    if grouped:
        raise ValueError(f"grouped convolutions are not supported (the official code splits them per group): {grouped}")
    return layers


@dataclass(frozen=True)
class MSQOptions(Options):
    scalar: float = DEFAULT_SCALAR  # alphabet scale C, > 0

    def check(self) -> None:
        check_scalar(self.scalar)


@dataclass(frozen=True)
class GPFQOptions(MSQOptions):
    regularizer: str = "none"  # none | L1 | L0 (sparse GPFQ)
    lam: float = 0.0  # the L1 / L0 threshold, in weight units, >= 0
    retain_rate: float = 0.25  # share of each image's patches kept as calibration samples, in (0, 1]
    patches: str = "kernel"  # kernel: non-overlapping patches (official) | conv: at the layer's own stride

    def check(self) -> None:
        super().check()
        if self.regularizer not in REGULARIZERS:
            raise ValueError(f"unknown regularizer {self.regularizer!r}; valid: {', '.join(REGULARIZERS)}")
        if not isinstance(self.lam, (int, float)) or isinstance(self.lam, bool) or not self.lam >= 0:
            raise ValueError(f"lam must be a number >= 0, got {self.lam!r}")
        if self.lam > 0 and self.regularizer == "none":
            raise ValueError(f"lam = {self.lam} has no effect without a regularizer; set regularizer to L1 or L0")
        if self.patches not in PATCHES:
            raise ValueError(f"unknown patches {self.patches!r}; valid: {', '.join(PATCHES)}")
        if not 0 < self.retain_rate <= 1:
            raise ValueError(f"retain_rate must be in (0, 1], got {self.retain_rate}")


class GPFQ(PTQMethod):
    """GPFQ over every Conv2d and Linear layer, first and last included, in network order."""

    name = "gpfq"
    supported_bits = BITS
    Options = GPFQOptions

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """The alphabet {k/K}, k = -K..K, K = 2^(b-1): 2^b + 1 values with zero (``Alphabet``)."""
        return 2**bits + 1, None

    def check(self, config: PTQConfig) -> None:
        super().check(config)
        if config.calibration < 1:
            raise ValueError(f"gpfq needs calibration data: calibration must be >= 1 images per layer, "
                             f"got {config.calibration}")

    def quantize(self, model: nn.Module, data: ImageData, config: PTQConfig, device: torch.device) -> dict[str, Any]:
        opts: GPFQOptions = self.options(config)
        layers = _layers_to_quantize(model)
        if config.calibration > len(data.train_x):
            raise ValueError(f"calibration = {config.calibration} images per layer, but {data.name} has only "
                             f"{len(data.train_x)} training images")
        was_training = model.training
        model.eval()
        analog = copy.deepcopy(model)
        batches = calibration_batches(data, config.calibration, device, config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        report: dict[str, Any] = {}
        with torch_threads(GPFQ_THREADS, device):
            for name, layer in layers.items():
                report[name] = self._quantize_layer(name, layer, analog, model, next(batches), generator, opts,
                                                    config.bits)
        model.train(was_training)
        return {"alphabet": "k delta, k = -K..K, K = 2^(b-1), delta = C R / K (L0: zero and lam + k delta')",
                **dataclasses.asdict(opts), "sparsity": sparsity(model), "layers": report}

    @staticmethod
    def _quantize_layer(name: str, layer: nn.Module, analog: nn.Module, model: nn.Module, images: torch.Tensor,
                        generator: torch.Generator, opts: GPFQOptions, bits: int) -> dict[str, Any]:
        """Quantize one layer of ``model`` in place from its inputs in ``analog`` and in ``model``."""
        x, x_tilde = layer_inputs(analog, model, name, images, opts.retain_rate, generator, opts.patches)
        w = layer.weight.detach().flatten(1)
        alphabet = Alphabet.for_weights(w, bits, opts.scalar, opts.regularizer, opts.lam)
        q, u = gpfq_layer(w.to(x.dtype), x, x_tilde, alphabet)
        layer.weight.data.copy_(q.view_as(layer.weight))
        return {"neurons": w.shape[0], "inputs": w.shape[1], "samples": x.shape[0], "radius": alphabet.radius,
                "step": alphabet.step, "relative_error": (u.norm() / (x @ w.T).norm()).item(),
                "weight_sparsity": (q == 0).float().mean().item()}


class MSQ(PTQMethod):
    """Round every weight of every Conv2d and Linear layer to the nearest level of GPFQ's alphabet."""

    name = "msq"
    supported_bits = BITS
    Options = MSQOptions
    calibrates = False  # round to nearest: no data

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """GPFQ's alphabet (``GPFQ.levels``)."""
        return 2**bits + 1, None

    def check(self, config: PTQConfig) -> None:
        super().check(config)
        if config.calibration != 0:
            raise ValueError(f"msq rounds weights without data: set calibration = 0 (got {config.calibration}), "
                             "so that equal runs share one record")

    @torch.no_grad()
    def quantize(self, model: nn.Module, data: ImageData, config: PTQConfig, device: torch.device) -> dict[str, Any]:
        scalar = self.options(config).scalar
        report: dict[str, Any] = {}
        with torch_threads(GPFQ_THREADS, device):
            for name, layer in _layers_to_quantize(model).items():
                w = layer.weight.detach()
                alphabet = Alphabet.for_weights(w, config.bits, scalar)
                q = alphabet(w)
                report[name] = {"radius": alphabet.radius, "step": alphabet.step,
                                "relative_weight_error": ((w - q).norm() / w.norm()).item(),
                                "weight_sparsity": (q == 0).float().mean().item()}
                layer.weight.copy_(q)
        return {"scalar": scalar, "sparsity": sparsity(model), "layers": report}


PTQ_METHODS = (GPFQ(), MSQ())


def layer_facts(record: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per layer of a recorded GPFQ or MSQ run, what ``quantize`` reported (radius, step, errors, zero weights;
    GPFQ also samples, inputs and neurons)."""
    return record["summary"]["layers"]


def check_scalar(scalar: Any) -> None:
    if not isinstance(scalar, (int, float)) or isinstance(scalar, bool) or not (scalar > 0 and math.isfinite(scalar)):
        raise ValueError(f"scalar (the alphabet scale C) must be a finite number > 0, got {scalar!r}")
