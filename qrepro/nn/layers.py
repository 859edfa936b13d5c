"""Quantized layers: Conv2d / Linear that quantize their input and weight on every forward pass.

    y = conv(Q_a(x), Q_w(W)) + b

Q_a and Q_w are any modules mapping a tensor to its level set (see qrepro.quantizers); nn.Identity means
full precision. The float weight W stays the trained parameter; only the forward pass sees Q_w(W).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QConv2d(nn.Conv2d):
    """nn.Conv2d whose input and weight pass through an activation and a weight quantizer."""

    def __init__(self, *args, weight_quantizer: nn.Module | None = None, act_quantizer: nn.Module | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_quantizer = weight_quantizer or nn.Identity()
        self.act_quantizer = act_quantizer or nn.Identity()

    @classmethod
    def from_float(cls, conv: nn.Conv2d, weight_quantizer: nn.Module | None,
                   act_quantizer: nn.Module | None) -> QConv2d:
        """A QConv2d that shares ``conv``'s parameters (same Parameter objects)."""
        layer = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None, padding_mode=conv.padding_mode,
            device="meta", weight_quantizer=weight_quantizer, act_quantizer=act_quantizer,
        )
        layer.weight, layer.bias = conv.weight, conv.bias
        return layer.to(conv.weight.device)

    def quantized_weight(self) -> torch.Tensor:
        return self.weight_quantizer(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self.act_quantizer(x), self.quantized_weight(), self.bias)


class QLinear(nn.Linear):
    """nn.Linear whose input and weight pass through an activation and a weight quantizer."""

    def __init__(self, *args, weight_quantizer: nn.Module | None = None, act_quantizer: nn.Module | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_quantizer = weight_quantizer or nn.Identity()
        self.act_quantizer = act_quantizer or nn.Identity()

    @classmethod
    def from_float(cls, linear: nn.Linear, weight_quantizer: nn.Module | None,
                   act_quantizer: nn.Module | None) -> QLinear:
        """A QLinear that shares ``linear``'s parameters (same Parameter objects)."""
        layer = cls(
            linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta",
            weight_quantizer=weight_quantizer, act_quantizer=act_quantizer,
        )
        layer.weight, layer.bias = linear.weight, linear.bias
        return layer.to(linear.weight.device)

    def quantized_weight(self) -> torch.Tensor:
        return self.weight_quantizer(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.act_quantizer(x), self.quantized_weight(), self.bias)


QUANTIZED_TYPES = (QConv2d, QLinear)
