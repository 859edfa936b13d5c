"""VGG-style CIFAR networks used by the SQ and LQ-Nets/APoT papers.

``vgg9`` -- the VGG-9 of the official SQ code (Dong et al., "Learning Accurate Low-Bit
Deep Neural Networks with Stochastic Quantization", BMVC 2017)::

    (2x64C3) - MP2 - Drop0.25 - (2x128C3) - MP2 - Drop0.25 - (2x256C3) - MP2 - Drop0.25
    - FC512 - FC512 - FC(num_classes)

Every conv and FC except the last is followed by BatchNorm (affine) + ReLU; both FC512
are followed by Dropout(0.5) after the ReLU. Convs are 3x3, padding 1, without bias; the
two FC512 have no bias; the last FC has one. 6 convs + 3 FCs = 9 weight layers.

``vgg_small`` -- the VGG-Small of LQ-Nets (Zhang et al., ECCV 2018), the baseline of the
APoT (Li et al., ICLR 2020) CIFAR comparisons::

    2x128C3 - MP2 - 2x256C3 - MP2 - 2x512C3 - MP2 - FC(num_classes)

Each conv (3x3, padding 1, no bias) is followed by BN + ReLU; the FC has a bias.

Both have three 2x2 max-pools, so the flattened feature map is ``(image_size // 8) ** 2``
pixels (32 -> 4x4, 8 -> 1x1); it is computed from ``image_size``, which must be >= 8.
Weights are initialised by :func:`qrepro.models.init.init_weights`.
"""

import torch
from torch import nn

from qrepro.models.init import init_weights


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


def _features(in_channels: int, widths: list[int], dropout: float) -> nn.Sequential:
    """Stages of two conv-BN-ReLU layers, each stage closed by a 2x2 max-pool (+ dropout)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += _conv_bn_relu(in_channels, width) + _conv_bn_relu(width, width)
        layers.append(nn.MaxPool2d(2))
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_channels = width
    return nn.Sequential(*layers)


def _flat_size(channels: int, image_size: int) -> int:
    if image_size < 8:
        raise ValueError(f"VGG models need image_size >= 8 (three 2x2 max-pools), got {image_size}")
    return channels * (image_size // 8) ** 2


class VGG(nn.Module):
    """``features`` (convolutional stages) followed by ``classifier`` (flatten + FCs)."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def vgg9(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> VGG:
    """SQ-paper VGG-9 (6 convs, 3 FCs); see the module docstring."""
    classifier = nn.Sequential(nn.Flatten())
    fc_in = _flat_size(256, image_size)
    for _ in range(2):
        classifier.extend([nn.Linear(fc_in, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.5)])
        fc_in = 512
    classifier.append(nn.Linear(512, num_classes))
    return VGG(_features(in_channels, [64, 128, 256], dropout=0.25), classifier)


def vgg_small(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> VGG:
    """LQ-Nets / APoT VGG-Small (6 convs, 1 FC); see the module docstring."""
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(_flat_size(512, image_size), num_classes))
    return VGG(_features(in_channels, [128, 256, 512], dropout=0.0), classifier)
