"""CIFAR ResNets (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Sec. 4.2).

ResNet-(6n+2): a 3x3 stem conv (16 channels), three stages of ``n`` BasicBlocks with
16/32/64 channels (stride 2 at the start of stages 2 and 3), global average pooling
and a Linear classifier::

    conv3x3(16) - BN - ReLU - [BasicBlock(16)] x n - [BasicBlock(32)] x n
    - [BasicBlock(64)] x n - global avg pool - Linear(num_classes)

BasicBlock (post-activation): ``ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x))``.

Shortcut when the shape changes:

* ``"A"`` (paper default): parameter-free; subsample ``x`` by the stride and append
  zero channels.
* ``"B"``: 1x1 conv (stride 2, no bias) + BN, as in the official APoT code.

``width`` multiplies all channel widths (16w/32w/64w). Global average pooling makes the
networks input-size agnostic (any input >= 4x4, e.g. 8x8 digits or 32x32 CIFAR).

:class:`ResNet` is generic over stage widths and depths and is reused by
:mod:`qrepro.models.resnet18`. Weights are initialised by :func:`qrepro.models.init.init_weights`.
"""

import torch
import torch.nn.functional as F
from torch import nn

from qrepro.models.init import init_weights

SHORTCUTS = ("A", "B")


class ShortcutA(nn.Module):
    """Parameter-free shortcut: spatial subsampling by ``stride`` and zero-padding of new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """Post-activation residual block: conv-BN-ReLU-conv-BN, add shortcut, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem conv3x3 (stride 1) - optional 3x3/2 max-pool - BasicBlock stages - GAP - Linear.

    Stage ``i`` has ``blocks[i]`` blocks of ``widths[i]`` channels; every stage but the
    first starts with stride 2.
    """

    def __init__(
        self,
        widths: list[int],
        blocks: list[int],
        num_classes: int = 10,
        in_channels: int = 3,
        shortcut: str = "A",
        maxpool: bool = False,
    ) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if maxpool else nn.Identity()
        stages, channels = [], widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks)):
            layers = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(channels, width, stride, shortcut))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(x.mean(dim=(2, 3)))


def cifar_resnet(
    depth: int, num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", width: int = 1
) -> ResNet:
    """He et al. CIFAR ResNet of the given ``depth`` (``6n + 2``)."""
    if (depth - 2) % 6 != 0 or depth < 8:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width}")
    n = (depth - 2) // 6
    widths = [16 * width, 32 * width, 64 * width]
    return ResNet(widths, [n, n, n], num_classes, in_channels, shortcut)


def resnet20(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", width: int = 1) -> ResNet:
    """ResNet-20 (n = 3): 19 convs + 1 Linear (+2 shortcut convs with ``shortcut="B"``)."""
    return cifar_resnet(20, num_classes, in_channels, shortcut, width)


def resnet32(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", width: int = 1) -> ResNet:
    """ResNet-32 (n = 5): 31 convs + 1 Linear (+2 shortcut convs with ``shortcut="B"``)."""
    return cifar_resnet(32, num_classes, in_channels, shortcut, width)


def resnet56(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", width: int = 1) -> ResNet:
    """ResNet-56 (n = 9): 55 convs + 1 Linear (+2 shortcut convs with ``shortcut="B"``)."""
    return cifar_resnet(56, num_classes, in_channels, shortcut, width)
