"""Stochastic quantization (SQ) over BWN, TWN and TTQ, and its stage chain 50 -> 75 -> 87.5 -> 100 %.

Dong, Ni, Li, Chen, Zhu, Su, "Learning Accurate Low-Bit Deep Neural Networks with Stochastic Quantization",
BMVC 2017 (arXiv 1708.01001); official Caffe code dongyp13/Stochastic-Quantization; the seed project
JonahMiller/Stochastic-Quantization (util.py, main.py). The official roulette is ``Roulette()`` in
caffe/src/caffe/layers/conv_layer_binary.cu and conv_layer_ternary.cu.

At every training iteration and in every layer, with W_i the layer's units (output filters, the paper's
"channels"; or single weights, or the whole layer) and Q_i their quantization by the base method:

1. quantization error            e_i = ||W_i - Q_i||_1 / ||W_i||_1,
2. selection probability         p_i = f(x_i) / sum_j f(x_j),  x_i = 1/e_i + 1e-7  (the paper: "quantized"),
   f in {constant 1, linear x, softmax e^x, sigmoid 1/(1 + e^-x)}, normalized for every f (the seed leaves
   the sigmoid unnormalized);
3. roulette without replacement  draw N_q = floor(r m) units with probability p, removing each drawn one;
4. hybrid weights                Q~_i = Q_i for the drawn units, W_i (bit-identical) for the rest;
   forward and backward use Q~; quantized units get the base quantizer's gradient (straight through for
   BWN/TWN, TTQ's for TTQ), full-precision units the ordinary one; the float weights are only ever changed
   by the optimizer.

``select="full_precision"`` is the official code's and the seed's direction instead: draw the
N_r = floor((1 - r) m) units that stay full precision, with x_i = e_i (probability ~ f(error)); the rest
are quantized. The official code implements only f = linear.

Roulette without replacement is sampled exactly as a sequential roulette, in one vectorized step: the k
units with the largest keys log p_i + G_i (G_i i.i.d. Gumbel) are a draw of k units without replacement
with probability proportional to p (Efraimidis and Spirakis 2006; the Gumbel-top-k trick). The global torch
RNG drives it, so runs are reproducible from their seed and a resumed run continues the same random stream
(the training loop checkpoints the RNG state).

Evaluation at ratio < 1 (a choice the paper leaves open; the official Caffe test net samples a partition as
in training): in eval mode every unit is quantized, so each stage's test accuracy is that of the fully
quantized network, the model one would deploy after that stage. The batch-norm statistics collected in training
are the hybrid networks', which do not fit it (with them, ResNet-20 with half its filters binarized evaluated at
chance, 10 %, after every epoch of its first stage on CIFAR-10 images), so after every epoch at ratio < 1 they are
recomputed for the fully quantized network over ``RECALIBRATION_BATCHES`` training batches (training uses batch
statistics, so this changes evaluation only). At ratio 1 (the final stage) training and evaluation coincide and
nothing is recomputed.

Granularity "layer" makes whole layers the units: N_q = floor(r L) of the network's L quantized layers are
drawn jointly before every training forward by ``resample_layers`` (the SQ objective calls it).

Each SQ stage is a full training run (TrainConfig) initialized from the previous stage's final weights,
with the learning-rate schedule restarted; stage 1 starts from scratch, as in the official train.sh, and
the FWN/BWN/TWN/TTQ baselines are one run of the same schedule. Every conv and linear layer is quantized,
the first and the last included (official code; TTQ keeps them full precision as its own code does, see
``TTQMethod``); biases and batch norm stay full precision.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..nn import FULL_PRECISION, LayerQuant, quantize_, quantized_layers
from ..quantizers import BWN, TTQ, TWN
from ..quantizers.binary import filters
from ..quantizers.select import select_units
from ..train import Objective, recalibrate_batchnorm
from .base import Method, Options

PROBS = ("constant", "linear", "softmax", "sigmoid")
GRANULARITIES = ("layer", "filter", "element")
SELECTS = ("quantized", "full_precision")
EPSILON = 1e-7  # x = 1/e + EPSILON, as the seed
DEFAULT_RATIOS = (0.5, 0.75, 0.875, 1.0)
SQ_DEFAULTS = {"granularity": "filter", "prob": "linear", "select": "quantized"}
RECALIBRATION_BATCHES = 20  # training batches over which a hybrid stage's batch-norm statistics are recomputed


# --- selection --------------------------------------------------------------------------------------------

def unit_errors(w: torch.Tensor, q: torch.Tensor, granularity: str) -> torch.Tensor:
    """e = ||W_u - Q_u||_1 / ||W_u||_1 for every unit u (a 1-element tensor for granularity "layer")."""
    diff, ref = (w - q).abs(), w.abs()
    if granularity == "filter":
        diff, ref = filters(diff).sum(dim=1), filters(ref).sum(dim=1)
    elif granularity == "layer":
        diff, ref = diff.sum().reshape(1), ref.sum().reshape(1)
    elif granularity == "element":
        diff, ref = diff.flatten(), ref.flatten()
    else:
        raise ValueError(f"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}")
    return diff / ref.clamp_min(torch.finfo(ref.dtype).tiny)


def log_weights(error: torch.Tensor, prob: str, select: str = "quantized") -> torch.Tensor:
    """log f(x) per unit, x = 1/e + 1e-7 ("quantized") or x = e ("full_precision"); p = softmax(log f)."""
    if select == "quantized":
        x = 1 / error.clamp_min(1e-12) + EPSILON
    elif select == "full_precision":
        x = error
    else:
        raise ValueError(f"unknown select {select!r}; valid: {', '.join(SELECTS)}")
    if prob == "constant":
        return torch.zeros_like(x)
    if prob == "linear":
        return x.log()
    if prob == "softmax":
        return x
    if prob == "sigmoid":
        return nn.functional.logsigmoid(x)
    raise ValueError(f"unknown probability function {prob!r}; valid: {', '.join(PROBS)}")


def selection_probabilities(error: torch.Tensor, prob: str, select: str = "quantized") -> torch.Tensor:
    """The roulette's probabilities of the first draw: p_i = f(x_i) / sum_j f(x_j) (see module docstring)."""
    return torch.softmax(log_weights(error, prob, select), dim=0)


def quantized_count(ratio: float, units: int, select: str = "quantized") -> int:
    """Units quantized at ``ratio``: floor(r m) drawn, or m - floor((1 - r) m) when drawing the FP ones."""
    if select == "quantized":
        return min(units, math.floor(ratio * units + 1e-9))
    return units - math.floor((1 - ratio) * units + 1e-9)


def roulette(log_w: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A boolean mask of k units drawn without replacement with probability proportional to exp(log_w).

    Sequential roulette (draw one unit with p / sum p, zero its p, repeat) in one step: the top-k of
    log_w + Gumbel noise. Units with log_w = -inf (p = 0) are drawn only when fewer than k others remain.
    """
    mask = torch.zeros(log_w.shape, dtype=torch.bool, device=log_w.device)
    if k <= 0:
        return mask
    exponential = torch.empty(log_w.shape, dtype=log_w.dtype, device=log_w.device).exponential_(generator=generator)
    keys = log_w - exponential.log()
    mask[keys.topk(min(k, log_w.numel())).indices] = True
    return mask


def grow(error: torch.Tensor, done: torch.Tensor, target: int, prob: str, select: str,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """The units to add to ``done`` (boolean per unit) so that ``target`` units are done, drawn by roulette.

    select "quantized": draw the missing units among the others with p ~ f(1/e + 1e-7); "full_precision":
    draw, among the others, the ones that stay undone with p ~ f(e), and add the rest. Stochastic INQ/ELQ
    grows its frozen set this way, step by step (with nothing done it draws what ``quantized_units`` draws).
    """
    free = ~done
    need = target - int(done.sum())
    if need <= 0:
        return torch.zeros_like(done)
    log_w = log_weights(error, prob, select).masked_fill(done, -math.inf)
    if select == "quantized":
        return roulette(log_w, need, generator)
    return free & ~roulette(log_w, int(free.sum()) - need, generator)


def quantized_units(error: torch.Tensor, ratio: float, prob: str, select: str,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Which units to quantize (boolean, one per unit) at ``ratio``, drawn in the ``select`` direction."""
    count = quantized_count(ratio, error.numel(), select)
    if select == "quantized":
        return roulette(log_weights(error, prob, select), count, generator)
    return ~roulette(log_weights(error, prob, select), error.numel() - count, generator)


def expand_units(mask: torch.Tensor, w: torch.Tensor, granularity: str) -> torch.Tensor:
    """A per-unit mask as a mask of ``w``'s shape."""
    if granularity == "filter":
        return mask.reshape(-1, *([1] * (w.dim() - 1))).expand_as(w)
    if granularity == "layer":
        return mask.reshape([1] * w.dim()).expand_as(w)
    return mask.reshape(w.shape)


# --- the hybrid quantizer ---------------------------------------------------------------------------------

class SQWeight(nn.Module):
    """SQ around a base quantizer: in training, a fresh stochastic partition at every forward (see module doc).

    ``mask`` holds the unit mask (True = quantized) of the last training forward, for inspection. For
    granularity "layer" the partition is decided across layers by ``resample_layers`` and set in ``selected``
    (the layer's output is then Q(W) or W itself).
    """

    def __init__(self, base: nn.Module, ratio: float, granularity: str = "filter", prob: str = "linear",
                 select: str = "quantized"):
        super().__init__()
        check_sq_options(ratio, granularity, prob, select)
        self.base = base
        self.ratio, self.granularity, self.prob, self.select = float(ratio), granularity, prob, select
        self.selected: torch.Tensor | None = None  # granularity "layer": whether this layer is quantized this step
        self.mask: torch.Tensor | None = None

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        q = self.base(w)
        if not self.training or self.ratio >= 1:
            return q
        if self.granularity == "layer":
            if self.selected is None:
                raise RuntimeError("SQ with granularity 'layer' draws layers jointly: call "
                                   "qrepro.methods.sq.resample_layers(model) before each training forward")
            return torch.where(self.selected, q, w)  # a 0-dim bool on the device: no host sync, one graph
        with torch.no_grad():
            self.mask = quantized_units(unit_errors(w, q, self.granularity), self.ratio, self.prob, self.select)
        chosen = self.mask if self.granularity == "filter" else expand_units(self.mask, w, self.granularity)
        return select_units(chosen, q, w)  # torch.where on the broadcast mask

    @property
    def bits(self) -> int:
        return self.base.bits

    def levels(self) -> torch.Tensor | None:
        """The base quantizer's level set: SQ only chooses which units take it."""
        return self.base.levels()

    def extra_repr(self) -> str:
        return f"bits={self.bits}, ratio={self.ratio}, granularity={self.granularity}, prob={self.prob}, " \
               f"select={self.select}"


def sq_layers(model: nn.Module) -> dict[str, tuple[nn.Module, SQWeight]]:
    """(layer, its SQ weight quantizer) by layer name, for the layers whose weights SQ quantizes."""
    return {name: (layer, layer.weight_quantizer) for name, layer in quantized_layers(model).items()
            if isinstance(layer.weight_quantizer, SQWeight)}


@torch.no_grad()
def resample_layers(model: nn.Module) -> None:
    """Granularity "layer": draw which layers are quantized, from the per-layer errors, for the next forward."""
    layers = [(layer, q) for layer, q in sq_layers(model).values() if q.granularity == "layer"]
    if not layers:
        return
    first = layers[0][1]
    errors = torch.cat([unit_errors(layer.weight, q.base(layer.weight), "layer") for layer, q in layers])
    chosen = quantized_units(errors, first.ratio, first.prob, first.select)
    for (_, q), selected in zip(layers, chosen.unbind()):
        q.selected = selected


def check_sq_options(ratio: Any, granularity: str, prob: str, select: str) -> None:
    """Raise ValueError naming the valid choices for a bad SQ ratio, granularity, probability or direction."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"SQ ratio must be a number in (0, 1], got {ratio!r}")
    for name, value, valid in (("granularity", granularity, GRANULARITIES), ("probability function", prob, PROBS),
                               ("select", select, SELECTS)):
        if value not in valid:
            raise ValueError(f"unknown SQ {name} {value!r}; valid: {', '.join(valid)}")


# --- methods ----------------------------------------------------------------------------------------------

class SQObjective(Objective):
    """Cross-entropy; with layer granularity, draws the quantized layers before every training step; at ratio < 1,
    batch-norm statistics of the fully quantized network after every epoch (see module docstring)."""

    def __init__(self, layered: bool, hybrid: bool):
        self.layered, self.hybrid = layered, hybrid

    def before_step(self, model: nn.Module) -> None:
        if self.layered and model.training:
            resample_layers(model)

    def end_epoch(self, model: nn.Module, train_loader: Any, epoch: int) -> dict[str, Any]:
        if self.hybrid:  # a copy of the loader: the next epoch's shuffle stays the one it would have been
            batches = itertools.islice(copy.copy(train_loader), RECALIBRATION_BATCHES)
            recalibrate_batchnorm(model, batches, keep_eval=(SQWeight,))
        return {}


@dataclass(frozen=True)
class SQOptions(Options):
    ratio: float | None = None  # share of units quantized in this stage, in (0, 1]; None: the plain base method
    granularity: str = SQ_DEFAULTS["granularity"]  # SQ unit: layer | filter | element
    prob: str = SQ_DEFAULTS["prob"]  # selection probability: constant | linear | softmax | sigmoid
    select: str = SQ_DEFAULTS["select"]  # what the roulette picks: quantized (paper) | full_precision (official)

    def check(self) -> None:
        if self.ratio is not None:
            check_sq_options(self.ratio, self.granularity, self.prob, self.select)

    def sq(self) -> dict[str, Any]:
        """The SQ settings as ``SQWeight`` takes them."""
        return {"granularity": self.granularity, "prob": self.prob, "select": self.select}


@dataclass(frozen=True)
class TWNOptions(SQOptions):
    variant: str = "paper"  # paper: per-layer alpha | official: per-channel alpha (SQ Caffe)


@dataclass(frozen=True)
class TTQOptions(SQOptions):
    threshold: float = 0.05  # t in (0, 1): Delta = t max|W|
    wn_grad: str = "paper"  # gradient of W_n: paper (+sum) | official (-sum, the exact derivative)


class SQMethod(Method):
    """A base quantizer on every conv and linear layer, wrapped in SQ when the options have a ``ratio``."""

    Options = SQOptions
    weight_levels = 0  # the base quantizer's levels per layer (with its scale)

    def base(self, options: Any) -> nn.Module:
        raise NotImplementedError

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        return self.weight_levels, None

    def quantizer(self, options: SQOptions) -> nn.Module:
        base = self.base(options)
        if options.ratio is None:
            return base
        return SQWeight(base, options.ratio, **options.sq())

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        given = set(config.options) & set(SQ_DEFAULTS)
        if "ratio" not in config.options and given:
            raise ValueError(f"{self.name}: options {sorted(given)} need an SQ ratio")
        self.base(self.options(config))  # the base quantizer validates its own options

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        options = self.options(config)
        quantize_(model, LayerQuant(weight=lambda layer: self.quantizer(options)))  # first and last too

    def objective(self, model: nn.Module, config: TrainConfig) -> Objective:
        options = self.options(config)
        hybrid = options.ratio is not None and options.ratio < 1
        return SQObjective(layered=hybrid and options.granularity == "layer", hybrid=hybrid)

    @torch.no_grad()
    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Per layer: the relative L1 error of the fully quantized weights; TTQ's learned scales."""
        layers = {}
        for name, layer in quantized_layers(model).items():
            quantizer = layer.weight_quantizer
            base = quantizer.base if isinstance(quantizer, SQWeight) else quantizer
            entry = {"error": unit_errors(layer.weight, base(layer.weight), "layer").item(),
                     "filters": layer.weight.shape[0]}
            if isinstance(base, TTQ):
                entry |= {"positive_scale": base.positive_scale.item(), "negative_scale": base.negative_scale.item()}
            layers[name] = entry
        return {"layers": layers}


class BWNMethod(SQMethod):
    """BWN weights (binary, per-filter scale), optionally with SQ."""

    name = "bwn"
    supported_bits = (1,)
    weight_levels = 2

    def base(self, options: SQOptions) -> nn.Module:
        return BWN()


class TWNMethod(SQMethod):
    """TWN weights (ternary), ``variant`` "paper" (per-layer alpha) or "official" (SQ Caffe, per-channel alpha)."""

    name = "twn"
    supported_bits = (2,)
    weight_levels = 3
    Options = TWNOptions

    def base(self, options: TWNOptions) -> nn.Module:
        return TWN(options.variant)


class TTQMethod(SQMethod):
    """TTQ weights (learned W_p, W_n), ``threshold`` t and ``wn_grad`` convention; the scales' weight decay is 0.

    The first convolution and the last linear layer stay full precision, as in the TTQ paper and its official
    code (czhu95/ternarynet tw-cifar10-resnet.py); also under SQ (SQ-TTQ is the seed project's extension).
    Ternarized with learned scales starting at 1, the classifier's logits start ~1/std(W) too large and the
    stem's scales get the largest gradients: at the official lr 0.1 both diverged in our trials.
    """

    name = "ttq"
    supported_bits = (2,)
    weight_levels = 3
    Options = TTQOptions

    def base(self, options: TTQOptions) -> nn.Module:
        return TTQ(options.threshold, options.wn_grad)

    def param_groups(self, lr: float) -> dict[str, tuple[float, float]]:
        """The learned scales at the weights' rate without weight decay (the official TF code decays weights only)."""
        return {"positive_scale": (lr, 0.0), "negative_scale": (lr, 0.0)}

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        options = self.options(config)
        quantize_(model, LayerQuant(weight=lambda layer: self.quantizer(options)), first=FULL_PRECISION,
                  last=FULL_PRECISION)


METHODS = (BWNMethod(), TWNMethod(), TTQMethod())
