"""What a training or post-training method is to the rest of the package.

A ``Method`` (quantization-aware training or plain full-precision training) owns its hyper-parameters as a typed
``Options`` dataclass (a run's ``config.options`` are its fields by name), swaps a model's layers for quantized
ones (``prepare``), acts once the run's initial weights are in place (``after_parent_loaded``), supplies the
training ``Objective`` (its per-step and per-epoch hooks) and summarizes the trained model for the run record.
A ``PTQMethod`` quantizes a trained model from calibration data without training.

Lifecycle of a training run (``qrepro.runs.build.start``): build the model, ``prepare``, load the parent's
weights, ``after_parent_loaded``, ``objective``; then every step ``Objective.before_step`` and ``Objective.loss``,
every epoch ``Objective.end_epoch``; at the end ``summarize``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from .. import models
from ..config import PTQConfig, TrainConfig
from ..data import ImageData
from ..train import Objective

EVAL_BATCH = 500  # evaluation batch of a post-training run (images; any size gives the same numbers)


class NotApplicable(ValueError):
    """A run its method cannot define for this model, found only once it sees the weights (e.g. GPFQ's L0 with
    lam >= C R in some layer). ``--keep-going`` leaves such a run out, as it does a diverged one."""


@dataclass(frozen=True)
class Options:
    """A method's hyper-parameters: a subclass's fields, each with its default (an absent option takes it), checked
    in ``check`` when constructed. Records keep them as the plain dict ``config.options`` (their run ids too)."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ValueError naming the valid choices for a value the method cannot run."""


class Configured:
    """What every method has: a name, the bit-widths it supports and its typed options."""

    name = ""
    supported_bits: tuple[int, ...] = ()
    Options: ClassVar[type[Options]] = Options

    def options(self, config: TrainConfig | PTQConfig) -> Any:
        """The run's options as ``self.Options``, checked; an unknown name is a clear error naming the valid ones."""
        valid = [f.name for f in dataclasses.fields(self.Options)]
        unknown = set(config.options) - set(valid)
        if unknown:
            raise ValueError(f"{self.name} has no option(s) {sorted(unknown)}; valid: {valid}")
        return self.Options(**config.options)

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """How many values a quantized body layer's weights and its input activations take at ``bits`` (None:
        full precision): what "b bits" means for this method, e.g. (3, None) for ternary weights."""
        return None, None

    def check(self, config: TrainConfig | PTQConfig) -> None:
        """Raise ValueError naming the valid choices when ``config`` asks for something this method lacks."""
        if config.bits not in self.supported_bits:
            raise ValueError(f"{self.name} supports bits {self.supported_bits}, got {config.bits}")
        self.options(config)


class Method(Configured):
    """Full-precision training: the base every quantization-aware method refines."""

    name = "fp"
    supported_bits = (32,)

    def precisions(self, bits: int) -> set[int]:
        """The bit-widths this method evaluates one set of weights at (e.g. PD-QAT: ``bits`` and 32)."""
        return {bits}

    def arch_options(self, arch: str, bits: int) -> dict[str, Any]:
        """What this method needs of ``arch``'s options at ``bits``: one BatchNorm per precision on a model with
        switchable BatchNorm (``precisions``), nothing on the others."""
        return models.precision_options(arch, self.precisions(bits))

    def split_data(self, data: ImageData, config: TrainConfig) -> tuple[ImageData, ImageData | None]:
        """The data to train and test on, and an optional validation set evaluated every epoch (default: none)."""
        return data, None

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        """Make ``model`` the network this method trains (e.g. swap in quantized layers), in place."""

    def after_parent_loaded(self, model: nn.Module, config: TrainConfig) -> None:
        """Work once the run's initial weights are in place (its parent's, or a fresh initialization) and before
        training starts, e.g. INQ's partition step. Not repeated when a run resumes from its checkpoint, which
        holds what this did."""

    def objective(self, model: nn.Module, config: TrainConfig) -> Objective:
        """The training objective (its loss and hooks) for ``model``; builds state only, changes no weight."""
        return Objective()

    def scoreboard_options(self, bits: int) -> dict[str, Any]:
        """The options this method's scoreboard run takes at ``bits`` beyond its row's fixed ones (e.g. PD-QAT's
        constraint level); none by default."""
        return {}

    def param_groups(self, lr: float) -> dict[str, tuple[float, float]]:
        """Parameters this method trains with their own (learning rate, weight decay), keyed by the end of their
        qualified name (``Schedule.group_overrides``), for a schedule whose base learning rate is ``lr``."""
        return {}

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Method-specific facts about the trained model, stored in the run record."""
        return {}


class PTQMethod(Configured):
    """Post-training quantization of a trained model."""

    calibrates = True  # whether it reads calibration images (round-to-nearest does not)

    def scoreboard_config(self, model: TrainConfig, bits: int, calibration: int, chapter: str) -> PTQConfig:
        """This method's run on the scoreboard: ``model`` quantized at ``bits`` with every option at its default,
        ``calibration`` images per layer where it calibrates, evaluated in batches of ``EVAL_BATCH``."""
        return PTQConfig(chapter=chapter, data=model.data, arch=model.arch, model=model, method=self.name, bits=bits,
                         options=dataclasses.asdict(self.Options()), calibration=calibration if self.calibrates else 0,
                         batch_size=EVAL_BATCH, seed=model.seed, profile=model.profile)

    def quantize(self, model: nn.Module, data: ImageData, config: PTQConfig, device: torch.device) -> dict[str, Any]:
        """Quantize ``model`` in place; return facts for the run record (e.g. sparsity, layer errors)."""
        raise NotImplementedError
