"""The PD-QAT "resnet20q": a widened pre-activation ResNet-20 with clipped activations and switchable BatchNorm.

As in ihounie/con-qat models/resnet_quan.py (PD-QAT's official code, built on SHI-Labs/Any-Precision-DNNs
models/resnet_quan.py), the network is the pre-activation ResNet-20 (He et al., "Identity Mappings in Deep
Residual Networks", ECCV 2016) with every width multiplied by ``width`` (the paper: 5, i.e. 80/160/320 channels)::

    stem conv3x3(16w)  (full precision, no BN or activation after it)
    9 x PreActBlock:   a = clip(bn0(x), 0, 1)
                       shortcut = bn_sc(conv1x1/2(a)) at a stage change, else x
                       out = conv1(clip(bn1(conv0(a)), 0, 1)) + shortcut
    bn - global average pool - Linear(num_classes)  (full precision)

Activations are clipped to [0, 1] at every precision (there is no ReLU), as hardtanh(x, 0, 1): the values and
gradient of clamp(x, 0, 1) (derivative 1 on 0 < x < 1), whose CPU backward is several times slower under bf16. A
quantization method swaps the 18 block convolutions and the two 1x1 shortcut convolutions for quantized ones, which
quantize their (already clipped) input. Within a block the convolutions are registered conv0, conv1, shortcut:
the order of the official 20-name layer list (Block_b_conv0, Block_b_conv1, Block_b_shortcut), so layer indices
agree with it.

Every BatchNorm is *switchable* (Any-Precision's SwitchBatchNorm2d): one BatchNorm per bit-width in
``bit_widths``, so the same weights evaluated at b and at 32 bits keep separate statistics and affine
parameters. ``set_precision(model, bits)`` switches every BatchNorm and every switchable quantizer at once.
Weights keep PyTorch's default initialization, as the official model does (it calls no init scheme).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class SwitchableBatchNorm2d(nn.Module):
    """One BatchNorm2d per bit-width; ``set_bits`` chooses the one the forward pass uses."""

    def __init__(self, num_features: int, bit_widths: Sequence[int]):
        super().__init__()
        self.bns = nn.ModuleDict({str(b): nn.BatchNorm2d(num_features) for b in bit_widths})
        self.bits = max(bit_widths)

    def set_bits(self, bits: int) -> None:
        if str(bits) not in self.bns:
            raise ValueError(f"this model keeps BatchNorm for bit-widths {[int(b) for b in self.bns]}, not {bits}; "
                             f"build it with bit_widths including {bits}")
        self.bits = bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bns[str(self.bits)](x)

    def extra_repr(self) -> str:
        return f"active={self.bits}"


def initialize_precisions(state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor],
                                                                                   dict[str, str], list[str]]:
    """A parent's ``state`` adapted to ``model``'s bit-widths: each switchable BatchNorm the model has at a bit-width
    the parent lacks starts from the parent's BatchNorm at its highest bit-width (its 32-bit one, for a model trained
    in full precision), and the parent's BatchNorms at bit-widths the model lacks are left out. Returns (the adapted
    state, {copied key: from key}, [left-out keys])."""
    wanted = model.state_dict()
    parent_bits: dict[str, list[int]] = {}  # "prefix.bns." -> the parent's bit-widths there
    for key in state:
        prefix, found, rest = key.partition(".bns.")
        if found:
            parent_bits.setdefault(prefix + found, []).append(int(rest.split(".", 1)[0]))
    adapted, copied = dict(state), {}
    for key in wanted:
        prefix, found, rest = key.partition(".bns.")
        if not found or key in state or prefix + found not in parent_bits:
            continue
        source = f"{prefix}.bns.{max(parent_bits[prefix + found])}.{rest.split('.', 1)[1]}"
        adapted[key], copied[key] = state[source].clone(), source
    left_out = [key for key in state if ".bns." in key and key not in wanted]
    for key in left_out:
        del adapted[key]
    return adapted, copied, left_out


def set_precision(model: nn.Module, bits: int) -> None:
    """Switch every switchable BatchNorm and quantizer of ``model`` (those with ``set_bits``) to ``bits``."""
    for module in model.modules():
        if hasattr(module, "set_bits"):
            module.set_bits(bits)


class PreActBlock(nn.Module):
    """bn0 - clip - conv0 - bn1 - clip - conv1, plus the identity or a 1x1 projection of the clipped input."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, bit_widths: Sequence[int]) -> None:
        super().__init__()
        self.bn0 = SwitchableBatchNorm2d(in_channels, bit_widths)
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = SwitchableBatchNorm2d(out_channels, bit_widths)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut: nn.Conv2d | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
            self.shortcut_bn = SwitchableBatchNorm2d(out_channels, bit_widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.hardtanh(self.bn0(x), 0, 1)
        skip = x if self.shortcut is None else self.shortcut_bn(self.shortcut(a))
        out = self.conv0(a)
        out = self.conv1(F.hardtanh(self.bn1(out), 0, 1))
        return out + skip


class PreActResNet(nn.Module):
    """Stem - stages of PreActBlocks (stride 2 at the start of every stage but the first) - BN - GAP - Linear."""

    def __init__(self, widths: Sequence[int], blocks: Sequence[int], num_classes: int, in_channels: int,
                 bit_widths: Sequence[int]) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        layers, channels = [], widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(PreActBlock(channels, width, 2 if i > 0 and j == 0 else 1, bit_widths))
                channels = width
        self.blocks = nn.Sequential(*layers)
        self.bn = SwitchableBatchNorm2d(channels, bit_widths)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.blocks(self.stem(x)))
        return self.fc(out.mean(dim=(2, 3)))


def preact_resnet20(num_classes: int = 10, in_channels: int = 3, width: int = 5,
                    bit_widths: Sequence[int] = (32,)) -> PreActResNet:
    """PD-QAT's resnet20q: 18 block convs + 2 shortcut convs quantizable, stem and classifier full precision.

    ``width`` multiplies 16/32/64 channels (paper: 5); ``bit_widths`` are the precisions that get a BatchNorm.
    """
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    bit_widths = tuple(sorted({int(b) for b in bit_widths}))
    if not bit_widths:
        raise ValueError("bit_widths must name at least one bit-width, e.g. (2, 32)")
    return PreActResNet([16 * width, 32 * width, 64 * width], [3, 3, 3], num_classes, in_channels, bit_widths)
