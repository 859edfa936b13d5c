"""INQ and the seed project's ELQ: freeze a growing part of every layer on its level set, retrain the rest.

INQ: Zhou, Yao, Guo, Xu, Chen, "Incremental Network Quantization", ICLR 2017 (arXiv 1702.03044; official Caffe
code AojunZhou/Incremental-Network-Quantization src/caffe/blob.cpp, src/caffe/util/power2.cpp). Starting from a
trained full-precision model, each step quantizes a larger accumulated share of every layer's weights to the
power-of-two set {0, +-2^n2, ..., +-2^n1} (``qrepro.quantizers.pow2``; n1 fixed from the full-precision max|W|)
and freezes it, then retrains the remaining float weights with SGD; the frozen weights get no gradient (T = 0 in
the paper). Partition ("pruning-inspired", the paper's and the seed's): the largest-|w| weights first;
accumulated shares 50 -> 75 -> 87.5 -> 100 %, 3 bits, 4 epochs per step with lr 1e-3 (x0.5 every 2 epochs,
restarted each step), momentum 0.9, weight decay 3e-4, batch 100: the seed's CIFAR recipe
(JonahMiller/Stochastic-Quantization main2.py); the paper has no CIFAR experiment.

ELQ as the seed defines it (inq/quantization_scheduler.py ``ELQScheduler``, inq/sgd.py ``ELQSGD``; no official
ELQ code exists): ternary weights alpha * (1[w > alpha/2] - 1[w < -alpha/2]) with alpha = mean|W| + 0.05 max|W|
fixed from the full-precision weights; at step sigma in 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0 it freezes the
weights with sigma * alpha <= |w| < (1 - sigma) * alpha, a band around the decision threshold alpha/2 that
widens to [0, alpha), and every weight with |w| > 2 alpha; after the last step all weights are frozen (the
seed's ``finish_quantize``, before the final test), and then, unlike the seed, which tests right after that
freeze, the BatchNorm statistics are recomputed over one pass of the training data for the frozen weights
(option ``recalibrate``, which the chapter sets; without it, the seed's end). Note: this is what the seed's code
does; it freezes the weights nearest the threshold first, while the ELQ paper (Zhou et al., CVPR 2018) is
described as starting from the weights nearest their levels. Every free weight also moves by -1e-5 * sign(w - Q(w)) per
iteration, a pull toward its level with the sign taken at the start of the step, as the seed's optimizer
does. lr 1e-2 (x0.5 every 2 epochs), weight decay 1e-4, 4 epochs per step.

Stochastic variants (the seed's SQ-ELQ, and the same for INQ): the frozen set grows by SQ's roulette
instead: at share r, units (filters, single weights, or whole layers) are added until floor(r m) units are
frozen, drawn among the free ones with SQ's probability functions of the units' quantization error
(``qrepro.methods.sq.grow``); shares 50 -> 75 -> 87.5 -> 100 %. Unlike the seed, which re-draws the whole
partition at every step, frozen units stay frozen.

Implementation: a layer's weight quantizer ``FrozenPartition`` outputs where(frozen, values, W); the frozen
mask, the frozen values and the layer's scale (2^n1 or alpha) are buffers in the state dict, so each step
is a training run (TrainConfig) initialized from the previous step and carries them. The float weights are
never overwritten. The partition step runs when the run's objective is made, after its initial weights are
loaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import TrainConfig
from ..nn import LayerQuant, quantize_, quantized_layers
from ..quantizers import elq_scale, elq_ternary, inq_exponents, inq_project, pow2_levels
from ..quantizers.binary import filters
from ..quantizers.pow2 import INQ_BITS
from ..quantizers.select import select_units
from ..train import Objective, recalibrate_batchnorm
from .base import Method, Options
from .sq import SQ_DEFAULTS, check_sq_options, expand_units, grow, quantized_count, unit_errors

INQ_STEPS = (0.5, 0.75, 0.875, 1.0)  # accumulated shares (the seed's; also the stochastic ELQ's)
ELQ_STEPS = (0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0.0)  # the seed's sigma_2
ELQ_PULL = 1e-5
PARTITIONS = {"inq": ("magnitude", "stochastic"), "elq": ("band", "stochastic")}  # the first is the default
FINAL_STEP = {"inq": 1.0, "elq": 0.0}  # the default step: the last one (everything frozen at once)


class FrozenPartition(nn.Module):
    """where(frozen, values, W): frozen weights read their stored level, the others stay float (see module doc)."""

    def __init__(self, weight: torch.Tensor, scheme: str, bits: int):
        super().__init__()
        if scheme not in PARTITIONS:
            raise ValueError(f"unknown incremental scheme {scheme!r}; valid: {', '.join(PARTITIONS)}")
        self.scheme, self.bits = scheme, bits
        self.register_buffer("frozen", torch.zeros_like(weight, dtype=torch.bool))
        self.register_buffer("values", torch.zeros_like(weight))
        self.register_buffer("scale", torch.zeros((), device=weight.device))  # 2^n1 (INQ) or alpha (ELQ); 0: unset
        # ELQ's per-step pull direction sign(w - Q(w)) on free weights; recomputed at every step, not persisted
        self.register_buffer("pull", torch.zeros_like(weight) if scheme == "elq" else None, persistent=False)

    @torch.no_grad()
    def set_scale_(self, w: torch.Tensor) -> None:
        """Fix the level set from the full-precision weights (once, at the first step)."""
        if self.scheme == "inq":
            self.scale.fill_(2.0 ** inq_exponents(w.abs().max().item(), self.bits)[0])
        else:
            self.scale.copy_(elq_scale(w))

    def exponents(self) -> tuple[int, int]:
        n1 = round(math.log2(self.scale.item()))
        return n1, n1 + 1 - 2 ** (self.bits - 1) // 2

    def levels(self) -> torch.Tensor:
        """The layer's level set, sorted."""
        if self.scheme == "inq":
            return pow2_levels(*self.exponents()).to(self.values)
        return torch.stack([-self.scale, torch.zeros_like(self.scale), self.scale])

    @torch.no_grad()
    def quantize(self, w: torch.Tensor) -> torch.Tensor:
        if self.scheme == "inq":
            return inq_project(w, *self.exponents())
        return elq_ternary(w, self.scale)

    @torch.no_grad()
    def freeze_(self, w: torch.Tensor, new: torch.Tensor) -> None:
        """Quantize the weights marked ``new`` and freeze them; frozen weights are never touched again."""
        new = new & ~self.frozen
        self.values.copy_(torch.where(new, self.quantize(w), self.values))
        self.frozen |= new

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return select_units(self.frozen, self.values, w)  # torch.where on the broadcast mask

    def extra_repr(self) -> str:
        return f"scheme={self.scheme}, bits={self.bits}"


def partitions(model: nn.Module) -> dict[str, tuple[nn.Module, FrozenPartition]]:
    return {name: (layer, layer.weight_quantizer) for name, layer in quantized_layers(model).items()
            if isinstance(layer.weight_quantizer, FrozenPartition)}


@dataclass(frozen=True)
class IncrementalOptions(Options):
    step: float | None = None  # INQ, stochastic: accumulated share in (0, 1]; ELQ band: sigma_2 in [0, 0.5)
    partition: str | None = None  # INQ: magnitude | stochastic; ELQ: band | stochastic (None: the first)
    granularity: str = SQ_DEFAULTS["granularity"]  # stochastic partitions: as SQ's
    prob: str = SQ_DEFAULTS["prob"]
    select: str = SQ_DEFAULTS["select"]
    recalibrate: bool = False  # ELQ's last band step: BatchNorm statistics recomputed after the final freeze

    def resolved(self, scheme: str) -> tuple[float, str]:
        """(step, partition); absent ones default to the scheme's last step and plain partition."""
        step = FINAL_STEP[scheme] if self.step is None else self.step
        return step, PARTITIONS[scheme][0] if self.partition is None else self.partition


@torch.no_grad()
def partition_(model: nn.Module, options: IncrementalOptions) -> None:
    """One partition step at share / band ``options.step``: freeze more weights of every layer."""
    layers = list(partitions(model).values())
    if not layers:
        return
    for layer, part in layers:
        if part.scale.item() == 0:
            part.set_scale_(layer.weight)
    step, partition = options.resolved(layers[0][1].scheme)
    if partition == "stochastic":
        _grow_stochastic(layers, step, options.granularity, options.prob, options.select)
    for layer, part in layers:
        w = layer.weight
        if partition == "magnitude":
            need = quantized_count(step, w.numel()) - int(part.frozen.sum())
            if need > 0:  # the largest |w| among the free weights
                order = w.abs().masked_fill(part.frozen, -1).flatten().topk(need).indices
                new = torch.zeros(w.numel(), dtype=torch.bool, device=w.device)
                new[order] = True
                part.freeze_(w, new.reshape(w.shape))
        elif partition == "band":
            alpha, size = part.scale, w.abs()
            part.freeze_(w, ((size >= step * alpha) & (size < (1 - step) * alpha)) | (size > 2 * alpha))
        if part.scheme == "elq":
            part.pull.copy_(torch.sign(w - part.quantize(w)) * ~part.frozen)


def _grow_stochastic(layers: list[tuple[nn.Module, FrozenPartition]], step: float, granularity: str, prob: str,
                     select: str) -> None:
    """Grow each layer's frozen set (or the set of frozen layers) to share ``step`` by SQ's roulette."""
    if granularity == "layer":
        errors = torch.cat([unit_errors(layer.weight, part.quantize(layer.weight), "layer") for layer, part in layers])
        done = torch.tensor([bool(part.frozen.all()) for _, part in layers], device=errors.device)
        new = grow(errors, done, quantized_count(step, len(layers), select), prob, select)
        for (layer, part), add in zip(layers, new.tolist()):
            if add:
                part.freeze_(layer.weight, torch.ones_like(part.frozen))
        return
    for layer, part in layers:
        w = layer.weight
        errors = unit_errors(w, part.quantize(w), granularity)
        done = filters(part.frozen).all(dim=1) if granularity == "filter" else part.frozen.flatten()
        new = grow(errors, done, quantized_count(step, errors.numel(), select), prob, select)
        part.freeze_(w, expand_units(new, w, granularity))


class IncrementalObjective(Objective):
    """Cross-entropy; ELQ's per-iteration pull of free weights; ELQ's final freeze at the end of its last step."""

    def __init__(self, model: nn.Module, pull: bool, finish_after: int | None, recalibrate: bool = False):
        self.layers = list(partitions(model).values())
        self.pull, self.finish_after, self.recalibrate = pull, finish_after, recalibrate

    @torch.no_grad()
    def before_step(self, model: nn.Module) -> None:
        if self.pull:
            for layer, part in self.layers:
                layer.weight.sub_(ELQ_PULL * part.pull)

    def end_epoch(self, model: nn.Module, train_loader: Any, epoch: int) -> dict[str, Any]:
        if self.finish_after is not None and epoch + 1 == self.finish_after:
            for layer, part in self.layers:
                part.freeze_(layer.weight, torch.ones_like(part.frozen))
            if self.recalibrate:
                recalibrate_batchnorm(model, train_loader)
        frozen = sum(int(part.frozen.sum()) for _, part in self.layers)
        return {"frozen": frozen / sum(part.frozen.numel() for _, part in self.layers)}


class IncrementalMethod(Method):
    """INQ or ELQ: every conv and linear layer's weight through a ``FrozenPartition`` (see module docstring).

    Options: step (INQ and stochastic: the accumulated share in (0, 1]; ELQ band: sigma_2 in [0, 0.5)),
    partition (INQ: magnitude | stochastic; ELQ: band | stochastic), and for stochastic ones granularity,
    prob, select as in SQ. Without options a run is the last step of the plain partition (all frozen).
    """

    scheme = ""
    Options = IncrementalOptions

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        options = self.options(config)
        step, partition = options.resolved(self.scheme)
        if partition not in PARTITIONS[self.scheme]:
            raise ValueError(f"{self.name} partition must be one of {', '.join(PARTITIONS[self.scheme])}, "
                             f"got {partition!r}")
        if isinstance(step, bool) or not isinstance(step, (int, float)):
            raise ValueError(f"{self.name} needs a numeric step, got {step!r}")
        if partition == "band" and not 0 <= step < 0.5:
            raise ValueError(f"ELQ band step sigma_2 must be in [0, 0.5), got {step}")
        if partition != "band" and not 0 < step <= 1:
            raise ValueError(f"{self.name} step (accumulated share) must be in (0, 1], got {step}")
        if partition == "stochastic":
            check_sq_options(step, options.granularity, options.prob, options.select)

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        quantize_(model, LayerQuant(weight=lambda layer: FrozenPartition(layer.weight, self.scheme, config.bits)))

    def after_parent_loaded(self, model: nn.Module, config: TrainConfig) -> None:
        """This run's partition step, on its parent's weights."""
        partition_(model, self.options(config))

    def objective(self, model: nn.Module, config: TrainConfig) -> Objective:
        options = self.options(config)
        finish = self.scheme == "elq" and options.resolved(self.scheme) == (0.0, "band")
        return IncrementalObjective(model, pull=self.scheme == "elq",
                                    finish_after=config.schedule.epochs if finish else None,
                                    recalibrate=finish and options.recalibrate)

    @torch.no_grad()
    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Per layer: the frozen share, the level set and how many weights are frozen on each level."""
        layers = {}
        for name, (_, part) in partitions(model).items():
            levels = part.levels()
            on_level = (part.values[part.frozen][:, None] == levels[None]).sum(0)
            layers[name] = {"frozen": part.frozen.float().mean().item(), "levels": levels.tolist(),
                            "level_counts": on_level.tolist()}
        return {"layers": layers}


class INQMethod(IncrementalMethod):
    name = "inq"
    scheme = "inq"
    supported_bits = INQ_BITS

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """0 and +-2^n for 2^(b-2) exponents n (``pow2.inq_exponents``)."""
        return 2 ** (bits - 1) + 1, None


class ELQMethod(IncrementalMethod):
    name = "elq"
    scheme = "elq"
    supported_bits = (2,)

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        return 3, None  # ternary


METHODS = (INQMethod(), ELQMethod())


def frozen_per_level(record: dict[str, Any]) -> tuple[list[float], list[int]]:
    """INQ/ELQ (``IncrementalMethod.summarize``): the frozen weights of a recorded run per level, all layers, the
    levels in units of each layer's largest level."""
    totals: dict[float, int] = {}
    for layer in record["summary"]["layers"].values():
        top = max(layer["levels"])
        for level, count in zip(layer["levels"], layer["level_counts"]):
            totals[level / top] = totals.get(level / top, 0) + count
    levels = sorted(totals)
    return levels, [totals[v] for v in levels]
