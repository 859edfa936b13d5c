"""The model a run trains or quantizes, built the one way every caller builds it (runs, fingerprints, checks)."""
from __future__ import annotations

import dataclasses

import torch

from .. import models
from ..methods import get_method
from ..config import PTQConfig, TrainConfig
from ..data import ImageData


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


CIFAR10_SHAPE = DataShape(in_channels=3, image_size=32, num_classes=10)  # the benchmarks' and checks' images
