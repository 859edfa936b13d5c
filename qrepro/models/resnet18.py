"""ResNet-18 for CIFAR-sized inputs (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

The torchvision ResNet-18 layout -- BasicBlocks [2, 2, 2, 2] with 64/128/256/512 channels,
1x1 conv (stride 2, no bias) + BN downsample shortcuts, global average pooling, Linear --
with the 7x7/2 ImageNet stem replaced by a 3x3 stride-1 conv::

    conv3x3(64) - BN - ReLU - [maxpool 3x3/2] - [BasicBlock(64)] x 2 - [BasicBlock(128)] x 2
    - [BasicBlock(256)] x 2 - [BasicBlock(512)] x 2 - global avg pool - Linear(num_classes)

``maxpool=True`` keeps torchvision's 3x3/2 max-pool after the stem (as the GPFQ seed
project's ResNet-18 does); the common CIFAR variant (default) drops it. Both run on 8x8
and 32x32 inputs. 17 convs + 3 shortcut convs + 1 Linear; 11,173,962 parameters for 10
classes. Built on :class:`qrepro.models.resnet_cifar.ResNet`.
"""

from qrepro.models.resnet_cifar import ResNet


def resnet18(num_classes: int = 10, in_channels: int = 3, maxpool: bool = False) -> ResNet:
    """ResNet-18 with a 3x3 stride-1 stem; ``maxpool`` keeps the 3x3/2 max-pool after it."""
    return ResNet([64, 128, 256, 512], [2, 2, 2, 2], num_classes, in_channels, "B", maxpool)
