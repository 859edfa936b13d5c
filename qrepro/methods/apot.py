"""APoT quantization-aware training and its progressive 32 -> 4 -> 3 -> 2 bit schedule.

Li, Dong, Wang, ICLR 2020, as the official CIFAR code trains it (yhhhli/APoT_Quantization CIFAR10/main.py,
CIFAR10/models/quant_layer.py and resnet.py, CIFAR10/train_res20.sh): every block convolution (and the 1x1
shortcut convolution) quantizes its weights with APoT levels and learnable clipping and its input activations
with unsigned APoT levels; the stem convolution and the classifier are 8-bit in every model, the "32-bit" one
included. Each bit-width is a full training run initialized from the next-higher one (32 -> 4 -> 3 -> 2; 5 from
32), with the official per-stage learning rate and weight decay, and the clipping values in their own parameter
groups (activations lr 0.1, weights lr 0.02, weight decay 1e-4), decayed with the same step schedule (x0.1 at
50% and 75% of the epochs: 150 and 225 of 300).

The quantizer is defined for alpha > 0 (levels alpha * {0, +-2^-k, ...}); the official code leaves the clipping
values unconstrained, and one lite seed's weight alpha went to -30.7, which mirrors and then silences its layer.
Here every alpha is projected onto alpha >= ``ALPHA_MIN`` before each step and before each evaluation (projected
SGD: a no-op while alpha stays positive, as it does in the official runs).
"""
from __future__ import annotations

from typing import Any, TypedDict

import torch
from torch import nn

from ..config import TrainConfig
from ..data import DeviceLoader
from ..nn import LayerQuant, quantize_, quantized_layers
from ..quantizers import APoTActivation, APoTWeight, SymmetricUniformWeight
from ..quantizers.apot import SUPPORTED_BITS, apot_levels
from ..train import Objective
from .base import Method

BITS = (32, *sorted(SUPPORTED_BITS, reverse=True))  # 32, 5, 4, 3, 2
# the clipping values' own (learning rate, weight decay): official CIFAR10/main.py
ALPHA_GROUPS = {"act_quantizer.alpha": (0.1, 1e-4), "weight_quantizer.alpha": (0.02, 1e-4)}
ALPHA_MIN = 1e-3  # the least clipping value a step may leave (weights: in units of the layer's std)


class PositiveClipping(Objective):
    """Cross-entropy, with every APoT clipping value projected onto alpha >= ALPHA_MIN before each step and at the
    end of each epoch (before the evaluation)."""

    def __init__(self, model: nn.Module):
        self.alphas = [m.alpha for m in model.modules() if isinstance(m, (APoTWeight, APoTActivation))]

    @torch.no_grad()
    def project(self) -> None:
        for alpha in self.alphas:
            alpha.clamp_(min=ALPHA_MIN)

    def before_step(self, model: nn.Module) -> None:
        self.project()

    def end_epoch(self, model: nn.Module, train_loader: DeviceLoader, epoch: int) -> dict[str, Any]:
        self.project()
        return {}


class APoT(Method):
    """APoT weights and activations in the body; 8-bit stem and classifier (see module docstring)."""

    name = "apot"
    supported_bits = BITS

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        eight_bit = LayerQuant(weight=lambda layer: SymmetricUniformWeight(8))
        if config.bits == 32:
            body = LayerQuant()
        else:
            body = LayerQuant(weight=lambda layer: APoTWeight(config.bits),
                              act=lambda layer: APoTActivation(config.bits))
        quantize_(model, body, first=eight_bit, last=eight_bit)

    def objective(self, model: nn.Module, config: TrainConfig) -> Objective:
        return PositiveClipping(model)

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """Signed APoT weights (2 bits: ternary) and unsigned APoT activations."""
        if bits == 32:
            return None, None
        return len(apot_levels(bits, signed=True)), len(apot_levels(bits, signed=False))

    def param_groups(self, lr: float) -> dict[str, tuple[float, float]]:
        """The clipping values at the official code's own rates, whatever the weights' rate."""
        return dict(ALPHA_GROUPS)

    def summarize(self, model: nn.Module, config: TrainConfig) -> APoTSummary | dict[str, Any]:
        """Learned clipping values and the count of weights on each APoT level, per layer (empty at 32 bits)."""
        layers: dict[str, APoTLayer] = {}
        for name, layer in quantized_layers(model).items():
            wq, aq = layer.weight_quantizer, layer.act_quantizer
            if not isinstance(wq, APoTWeight):
                continue
            with torch.no_grad():
                on_grid = wq(layer.weight) / wq.alpha
                index = torch.bucketize(on_grid.contiguous(), (wq.levels()[1:] + wq.levels()[:-1]) / 2)
            layers[name] = {
                "weight_alpha": wq.alpha.item(),
                "act_alpha": aq.alpha.item() if isinstance(aq, APoTActivation) else None,
                "level_counts": torch.bincount(index.flatten(), minlength=wq.levels().numel()).tolist(),
            }
        if not layers:
            return {}
        levels = next(q.weight_quantizer.levels() for q in quantized_layers(model).values()
                      if isinstance(q.weight_quantizer, APoTWeight))
        return {"weight_levels": levels.tolist(), "layers": layers}


METHODS = (APoT(),)


class APoTLayer(TypedDict):
    weight_alpha: float  # learned weight clipping, in units of the layer's weight std
    act_alpha: float | None  # learned activation clipping (None: the 8-bit stem and classifier)
    level_counts: list[int]  # weights on each of ``weight_levels``


class APoTSummary(TypedDict):
    """What ``APoT.summarize`` stores in a record; read it with the functions below."""

    weight_levels: list[float]  # the signed weight level set in units of alpha
    layers: dict[str, APoTLayer]  # per APoT-quantized layer


def clipping_values(record: dict[str, Any]) -> dict[str, tuple[float, float | None]]:
    """Per layer of a recorded APoT run: its learned (weight alpha, activation alpha); none at 32 bits."""
    layers: dict[str, APoTLayer] = record["summary"].get("layers", {})
    return {name: (layer["weight_alpha"], layer["act_alpha"]) for name, layer in layers.items()}


def weights_per_level(record: dict[str, Any]) -> tuple[list[float], list[int]]:
    """The weight level set of a recorded APoT run (in units of alpha) and the weights on each level, all layers."""
    summary: APoTSummary = record["summary"]
    counts = [sum(layer["level_counts"][i] for layer in summary["layers"].values())
              for i in range(len(summary["weight_levels"]))]
    return summary["weight_levels"], counts
