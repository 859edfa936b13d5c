"""LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998).

The 1998 layout with modern ReLU activations and max-pooling::

    conv5x5(6) - ReLU - MP2 - conv5x5(16) - ReLU - MP2 - FC120 - ReLU - FC84 - ReLU - FC(num_classes)

Deviation from the paper: both convs use ``padding=2`` ("same" convolution) instead of
valid convolution, so the feature map only shrinks at the two pools and small inputs
(8x8 digits) stay valid. The flattened size is therefore ``16 * (image_size // 4) ** 2``
(32 -> 16x8x8, 28 -> 16x7x7, 8 -> 16x2x2), computed from ``image_size`` (>= 4).
Convs and FCs have biases. Weights are initialised by :func:`qrepro.models.init.init_weights`.
"""

import torch
from torch import nn

from qrepro.models.init import init_weights


class LeNet5(nn.Module):
    """LeNet-5 with ReLU, max-pooling and padded convs; see the module docstring."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size < 4:
            raise ValueError(f"lenet5 needs image_size >= 4 (two 2x2 max-pools), got {image_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * (image_size // 4) ** 2, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> LeNet5:
    """LeNet-5 for ``image_size`` x ``image_size`` inputs; see the module docstring."""
    return LeNet5(num_classes, in_channels, image_size)
