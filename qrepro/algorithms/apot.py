"""APoT quantization-aware training and its progressive 32 -> 4 -> 3 -> 2 bit schedule.

Li, Dong, Wang, ICLR 2020, as the official CIFAR code trains it (yhhhli/APoT_Quantization CIFAR10/main.py,
CIFAR10/models/quant_layer.py and resnet.py, CIFAR10/train_res20.sh): every block convolution (and the 1x1
shortcut convolution) quantizes its weights with APoT levels and learnable clipping and its input activations
with unsigned APoT levels; the stem convolution and the classifier are 8-bit in every model, the "32-bit" one
included. Each bit-width is a full training run initialized from the next-higher one (32 -> 4 -> 3 -> 2; 5 from
32), with the official per-stage learning rate and weight decay, and the clipping values in their own parameter
groups (activations lr 0.1, weights lr 0.02, weight decay 1e-4), decayed with the same step schedule (x0.1 at
50% and 75% of the epochs: 150 and 225 of 300).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import Schedule, TrainConfig
from ..nn import LayerQuant, quantize_, quantized_layers
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from ..quantizers import APoTActivation, APoTWeight, SymmetricUniformWeight
from ..quantizers.apot import SUPPORTED_BITS
from .base import Method

CHAPTER = "apot"
BITS = (32, *sorted(SUPPORTED_BITS, reverse=True))  # 32, 5, 4, 3, 2
PARENT = {32: None, 5: 32, 4: 32, 3: 4, 2: 3}  # progressive initialization
# (learning rate, weight decay) per stage: official train_res20.sh / train_res56.sh (5 bits: as 4 bits)
STAGE_HPARAMS = {32: (0.1, 5e-4), 5: (0.04, 1e-4), 4: (0.04, 1e-4), 3: (0.04, 1e-4), 2: (0.04, 3e-5)}
ALPHA_GROUPS = {"act_quantizer.alpha": (0.1, 1e-4), "weight_quantizer.alpha": (0.02, 1e-4)}
# epochs per stage (full precision, quantized) and batch size, per profile
PROFILE_SCHEDULE = {"smoke": (12, 6, 64), "quick": (60, 40, 128), "paper": (300, 300, 128)}
ARCHS = ("resnet20", "resnet32", "resnet56")


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

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Learned clipping values and the count of weights on each APoT level, per layer."""
        layers: dict[str, Any] = {}
        for name, layer in quantized_layers(model).items():
            wq, aq = layer.weight_quantizer, layer.act_quantizer
            if not isinstance(wq, APoTWeight):
                continue
            with torch.no_grad():
                on_grid = wq(layer.weight) / wq.alpha
                index = torch.bucketize(on_grid, (wq.levels[1:] + wq.levels[:-1]) / 2)
            layers[name] = {
                "weight_alpha": wq.alpha.item(),
                "act_alpha": aq.alpha.item() if isinstance(aq, APoTActivation) else None,
                "level_counts": torch.bincount(index.flatten(), minlength=wq.levels.numel()).tolist(),
            }
        if not layers:
            return {}
        levels = next(q.weight_quantizer.levels for q in quantized_layers(model).values()
                      if isinstance(q.weight_quantizer, APoTWeight))
        return {"weight_levels": levels.tolist(), "layers": layers}


def stage_schedule(bits: int, profile: str, epochs: int = 0) -> Schedule:
    """The official per-stage hyper-parameters with the profile's length (``epochs`` > 0 overrides it)."""
    fp_epochs, q_epochs, batch_size = PROFILE_SCHEDULE[get_profile(profile).name]
    n = epochs or (fp_epochs if bits == 32 else q_epochs)
    lr, weight_decay = STAGE_HPARAMS[bits]
    return Schedule(
        epochs=n, batch_size=batch_size, optimizer="sgd", lr=lr, momentum=0.9, weight_decay=weight_decay,
        lr_schedule="step", milestones=(n // 2, n * 3 // 4), gamma=0.1,
        group_overrides=ALPHA_GROUPS if bits != 32 else {},
    )


def stage_config(bits: int, arch: str, profile: str, data: str, epochs: int, seed: int) -> TrainConfig:
    """The run for ``bits``, with its chain of parents down to the full-precision model as ``init``."""
    parent = PARENT[bits]
    return TrainConfig(
        chapter=CHAPTER, data=data, arch=arch, schedule=stage_schedule(bits, profile, epochs), method="apot",
        bits=bits, arch_options={"shortcut": "B"},  # the official code's quantized 1x1 shortcut
        init=stage_config(parent, arch, profile, data, epochs, seed) if parent else None, seed=seed, profile=profile,
    )


def sweep(bit: Any = "4,3,2", arch: str = "resnet20", profile: str = "smoke", data: str = "",
          epochs: int = 0, seeds: int = 1) -> list[TrainConfig]:
    """Every run the chapter needs for the requested bit-widths: each with its parents, parents first."""
    bits = parse_list(bit, int, "bit", choices=BITS[1:])
    expect("arch", arch, str, choices=ARCHS)
    expect("profile", profile, str, choices=tuple(PROFILE_SCHEDULE))
    expect("data", data, str)
    expect("epochs", epochs, int, minimum=0)
    expect("seeds", seeds, int, minimum=1)
    data = resolve_data(profile, data)
    needed: set[int] = set()
    for b in bits:
        while b is not None:
            needed.add(b)
            b = PARENT[b]
    order = [b for b in BITS if b in needed]  # 32 first, then descending: parents precede children
    return [stage_config(b, arch, profile, data, epochs, seed) for seed in range(seeds) for b in order]
