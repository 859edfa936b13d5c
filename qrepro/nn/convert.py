"""quantize_(model, ...): swap a model's Conv2d / Linear layers for quantized ones, in place.

Papers differ in which layers they quantize: APoT keeps the stem convolution and the classifier at
8 bits, PD-QAT keeps them in full precision, SQ and GPFQ quantize every layer. ``first`` and ``last``
say what to do with the first convolution and the last linear layer (in ``model.modules()`` order);
``skip`` names layers that stay full precision; ``overrides`` gives named layers their own quantization (a
mixed-precision model in one call, as torchao's per-name configs).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from torch import nn

from .layers import QUANTIZED_TYPES, QConv2d, QLinear

QuantizerFactory = Callable[[nn.Module], nn.Module]


@dataclass(frozen=True)
class LayerQuant:
    """How one layer is quantized: factories (called with the float layer) for its weight and input quantizers.

    ``None`` keeps that side in full precision; ``LayerQuant()`` keeps the whole layer in full precision.
    """

    weight: QuantizerFactory | None = None
    act: QuantizerFactory | None = None

    @property
    def is_float(self) -> bool:
        return self.weight is None and self.act is None


FULL_PRECISION = LayerQuant()


def quantizable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Conv2d and Linear layers (quantized or not) by qualified name, in ``model.modules()`` order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def quantized_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """The QConv2d / QLinear layers of a model by qualified name, in ``model.modules()`` order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, QUANTIZED_TYPES)}


def first_and_last(model: nn.Module) -> tuple[str, str]:
    """Names of the first convolution (the stem) and of the last linear layer (the classifier)."""
    layers = quantizable_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Conv2d or Linear layer to quantize")
    convs = [n for n, m in layers.items() if isinstance(m, nn.Conv2d)]
    linears = [n for n, m in layers.items() if isinstance(m, nn.Linear)]
    names = list(layers)
    return (convs or names)[0], (linears or names)[-1]


def quantize_(
    model: nn.Module,
    body: LayerQuant,
    *,
    first: LayerQuant | None = None,
    last: LayerQuant | None = None,
    skip: Collection[str] = (),
    overrides: Mapping[str, LayerQuant] = {},
) -> dict[str, QConv2d | QLinear]:
    """Replace float Conv2d / Linear layers by QConv2d / QLinear sharing their parameters; return the new layers.

    body:      quantization of every layer not otherwise named.
    first:     of the first convolution; last: of the last linear layer (``None``: same as body).
    skip:      qualified names of layers left in full precision.
    overrides: quantization of layers by qualified name; it wins over ``first`` and ``last``, and a name may not
               be both skipped and overridden.

    Layers that are already quantized are left as they are, whatever their spec.
    """
    layers = quantizable_layers(model)
    stem, classifier = first_and_last(model)
    unknown = (set(skip) | set(overrides)) - set(layers)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; quantizable layers are {list(layers)}")
    both = set(skip) & set(overrides)
    if both:
        raise ValueError(f"layers {sorted(both)} are both skipped and overridden; name each in one of the two")
    specs = {name: body for name in layers}
    if first is not None:
        specs[stem] = first
    if last is not None:
        specs[classifier] = last
    for name in skip:
        specs[name] = FULL_PRECISION
    specs.update(overrides)

    swapped: dict[str, QConv2d | QLinear] = {}
    for name, layer in layers.items():
        spec = specs[name]
        if spec.is_float or isinstance(layer, QUANTIZED_TYPES):
            continue
        weight_q = spec.weight(layer) if spec.weight else None
        act_q = spec.act(layer) if spec.act else None
        qtype = QConv2d if isinstance(layer, nn.Conv2d) else QLinear
        swapped[name] = qtype.from_float(layer, weight_q, act_q)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, swapped[name])
    return swapped
