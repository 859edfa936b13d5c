"""What a training or post-training method is to the rest of the package.

A ``Method`` (quantization-aware training or plain full-precision training) validates its config, swaps
a model's layers for quantized ones, supplies the training ``Objective`` and summarizes the trained model
for the run record. A ``PTQMethod`` quantizes a trained model from calibration data without training.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import PTQConfig, TrainConfig
from ..data import ImageData
from ..train import Objective


class Method:
    """Full-precision training: the base every quantization-aware method refines."""

    name = "fp"
    supported_bits: tuple[int, ...] = (32,)
    options: tuple[str, ...] = ()  # the names of the method's hyper-parameters in config.options

    def check(self, config: TrainConfig) -> None:
        """Raise ValueError naming the valid choices when ``config`` asks for something this method lacks."""
        if config.bits not in self.supported_bits:
            raise ValueError(f"{self.name} supports bits {self.supported_bits}, got {config.bits}")
        unknown = set(config.options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} has no option(s) {sorted(unknown)}; valid: {list(self.options)}")

    def split_data(self, data: ImageData, config: TrainConfig) -> tuple[ImageData, ImageData | None]:
        """The data to train and test on, and an optional validation set evaluated every epoch (default: none)."""
        return data, None

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        """Make ``model`` the network this method trains (e.g. swap in quantized layers), in place."""

    def objective(self, model: nn.Module, config: TrainConfig) -> Objective:
        return Objective()

    def param_groups(self, lr: float) -> dict[str, tuple[float, float]]:
        """Parameters this method trains with their own (learning rate, weight decay), keyed by the end of their
        qualified name (``Schedule.group_overrides``), for a schedule whose base learning rate is ``lr``."""
        return {}

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Method-specific facts about the trained model, stored in the run record."""
        return {}


class PTQMethod:
    """Post-training quantization of a trained model."""

    name = "ptq"
    supported_bits: tuple[int, ...] = ()
    options: tuple[str, ...] = ()

    def check(self, config: PTQConfig) -> None:
        if config.bits not in self.supported_bits:
            raise ValueError(f"{self.name} supports bits {self.supported_bits}, got {config.bits}")
        unknown = set(config.options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} has no option(s) {sorted(unknown)}; valid: {list(self.options)}")

    def quantize(self, model: nn.Module, data: ImageData, config: PTQConfig, device: torch.device) -> dict[str, Any]:
        """Quantize ``model`` in place; return facts for the run record (e.g. sparsity, layer errors)."""
        raise NotImplementedError
