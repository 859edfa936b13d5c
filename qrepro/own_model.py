"""Any method of the package on a model it did not define (a torchvision network, your own), as its runs do it.

    model = torchvision.models.resnet18(num_classes=10)
    objective = quantize_model(model, "apot", bits=4)     # layers swapped in place
    loss, logits = train_step(model, objective, optimizer, x, y, device)

The method's layers, quantizers, partition step and training objective are those of its runs. Two things a run's
own models guarantee are checked here instead of assumed:

- an activation quantizer of this package is unsigned (APoT's and DoReFa's are defined on ReLU outputs in
  [0, alpha] or [0, 1]); a layer whose input is negative on the first batch (e.g. after a hardswish) would be
  silently clipped, so it raises an error naming the layer and the ``skip`` that keeps it in full precision;
- PD-QAT needs one BatchNorm per precision (the package's pre-activation ResNet-20) and is refused for other models.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch
from torch import nn

from .config import Schedule, TrainConfig
from .methods import METHODS, get_method
from .methods.base import Configured, Method
from .nn import quantized_layers
from .train import Objective

OWN = "own"  # the chapter and data set name of the config a method reads its options from


def quantize_model(model: nn.Module, method: str, bits: int, skip: Collection[str] = (), **options: Any) -> Objective:
    """Quantize ``model`` in place with training method ``method`` at ``bits`` and its ``options`` (as in a run's
    config), leaving the layers named in ``skip`` in full precision; return the objective to train it with."""
    chosen = get_method(method)
    if not isinstance(chosen, Method) or method == "fp":
        valid = ", ".join(m for m in METHODS if m not in ("fp", "pdqat"))
        raise ValueError(f"{method!r} is not a quantization-aware training method for your own model; valid: {valid}")
    if chosen.precisions(bits) != {bits}:
        raise ValueError(f"{method} trains one set of weights at bit-widths {sorted(chosen.precisions(bits))}, which "
                         "needs a model with one BatchNorm per bit-width (the package's preact_resnet20); your "
                         "model has none")
    config = TrainConfig(chapter=OWN, data=OWN, arch=type(model).__name__, schedule=Schedule(epochs=1),
                         method=method, bits=bits, options=options)
    Configured.check(chosen, config)  # bits and options; the model checks of a run's own architectures do not apply
    chosen.prepare(model, config)
    for name in skip:
        layer = quantized_layers(model).get(name)
        if layer is None:
            raise ValueError(f"skip names {name!r}, which is no quantized layer; quantized layers: "
                             f"{list(quantized_layers(model))}")
        layer.act_quantizer, layer.weight_quantizer = nn.Identity(), nn.Identity()
    chosen.after_parent_loaded(model, config)
    _refuse_signed_inputs(model, method)
    return chosen.objective(model, config)


def _refuse_signed_inputs(model: nn.Module, method: str) -> None:
    """On its first forward pass, an error for every quantized layer whose activation quantizer gets a negative
    input (each check then removes itself)."""
    for name, layer in quantized_layers(model).items():
        if not isinstance(layer.act_quantizer, nn.Identity):
            handle = layer.register_forward_pre_hook(_unsigned_input_check(name, method))
            layer._qrepro_sign_check = handle  # removed by the check itself


def _unsigned_input_check(name: str, method: str):  # noqa: ANN202 - a forward pre-hook
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        module._qrepro_sign_check.remove()
        low = float(inputs[0].detach().min())
        if low < 0:
            raise ValueError(f"layer {name!r} receives negative inputs (min {low:.3g}), but {method}'s activation "
                             f"quantizer is unsigned (defined on ReLU outputs) and would clip them: keep it in full "
                             f"precision with skip=[{name!r}]")
    return hook
