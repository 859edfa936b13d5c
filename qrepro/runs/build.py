"""The model a run trains or quantizes, built the one way every caller builds it (runs, fingerprints, checks,
benchmarks, tests)."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .. import models
from ..config import PTQConfig, TrainConfig
from ..data import ImageData
from ..methods import Method, get_method
from ..train import Objective
from .weights import Parent, load_parent


@dataclasses.dataclass(frozen=True)
class DataShape:
    """The shape of a run's data set: all a model builder (and the behaviour fingerprint) needs of it; stored in
    the record."""

    in_channels: int
    image_size: int
    num_classes: int

    @classmethod
    def of(cls, data: ImageData) -> DataShape:
        return cls(data.in_channels, data.image_size, data.num_classes)


def build_model(config: TrainConfig | PTQConfig, data: ImageData | DataShape) -> torch.nn.Module:
    """The run's architecture (for a post-training run, its trained model's) for ``data``'s images and classes."""
    arch_options = config.arch_options if isinstance(config, TrainConfig) else config.model.arch_options
    return models.create(config.arch, num_classes=data.num_classes, in_channels=data.in_channels,
                         image_size=data.image_size, **arch_options)


def prepared_model(config: TrainConfig, data: ImageData | DataShape) -> torch.nn.Module:
    """``build_model``, then made the network ``config.method`` trains (e.g. quantized layers swapped in)."""
    model = build_model(config, data)
    get_method(config.method).prepare(model, config)
    return model


def trainable(config: TrainConfig, data: ImageData | DataShape, parent: Parent | None = None
              ) -> tuple[torch.nn.Module, Objective, dict[str, Any] | None]:
    """A training run's model and objective, in the method's lifecycle order: ``prepared_model``, the parent's
    weights (checked against its record's digest), ``after_parent_loaded``, ``objective``. Also returns the report
    of the parent's weights for the record (None without a parent)."""
    method = get_method(config.method)
    if not isinstance(method, Method):
        raise ValueError(f"{config.method} is a post-training method; use a PTQConfig")
    model = prepared_model(config, data)
    init_report = load_parent(model, parent) if parent is not None else None
    method.after_parent_loaded(model, config)
    return model, method.objective(model, config), init_report


CIFAR10_SHAPE = DataShape(in_channels=3, image_size=32, num_classes=10)  # the benchmarks' and checks' images
