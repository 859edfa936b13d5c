"""The model a run trains or quantizes, built the one way every caller builds it (runs, fingerprints, checks)."""
from __future__ import annotations

import torch

from .. import models
from ..algorithms import get_method
from ..config import PTQConfig, TrainConfig
from ..data import ImageData


def build_model(config: TrainConfig | PTQConfig, data: ImageData) -> torch.nn.Module:
    """The run's architecture (for a post-training run, its trained model's) for ``data``'s images and classes."""
    arch_options = config.arch_options if isinstance(config, TrainConfig) else config.model.arch_options
    return models.create(config.arch, num_classes=data.num_classes, in_channels=data.in_channels,
                         image_size=data.image_size, **arch_options)


def prepared_model(config: TrainConfig, data: ImageData) -> torch.nn.Module:
    """``build_model``, then made the network ``config.method`` trains (e.g. quantized layers swapped in)."""
    model = build_model(config, data)
    get_method(config.method).prepare(model, config)
    return model
