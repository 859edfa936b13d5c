"""PD-QAT's Lagrangian: quantization constraints, the primal step per batch and the dual ascent per epoch.

Hounie, Elenter, Ribeiro, "Neural networks with quantization constraints" (ICASSP 2023, arXiv 2210.15623), as the
official code trains it (ihounie/con-qat train_pd_layers.py). One set of
weights w gives a high-precision model f_w (the 32-bit DoReFa path) and a b-bit model f^q_w (switchable BN keeps
their statistics apart). The problem is

    min_w  E[ CE(f_w(x), y) ]
    s.t.   E[ CE_soft(f^q_w(x), softmax(f_w(x))) ] <= eps_out                      (output constraint)
           E[ mean (clip(g^32_l(z_l)) - Q_b(clip(g^b_l(z_l))))^2 ] <= eps_l,  l = 1..L  (layer-wise constraints)

where z_l is the quantized input of quantized layer l in the b-bit network, g^32_l and g^b_l that layer with its
32-bit and its b-bit weights, Q_b the b-bit activation quantizer and CE_soft(a, p) = -sum_c p_c log softmax(a)_c.
With the Lagrangian L(w, lambda) = objective + sum_i lambda_i (value_i - eps_i):

- primal step, every batch: one optimizer step on L(., lambda) (the training loop's own optimizer);
- dual step, once per epoch, in eval mode and without gradients: value_i averaged over the training split
  (augmented, as the official code; the loader's random state is restored afterwards),
  lambda <- relu(lambda + dual_lr * (value - eps)).

Duals start at lambda_out = 1 and lambda_l = 0 (official). "output" uses the output constraint only, "layerwise"
both kinds (as the paper's column (ii)), "none" neither. The dual step of a constrained run also records every
layer's MSE (constrained or not) and the output cross-entropy, so output-only and layer-wise runs compare per layer.

Gradients (``objective``):
- "high" (the official code): the objective is the HIGH-precision cross-entropy, and the b-bit branch passes
  gradient only to the b-bit BatchNorm parameters: its convolution, stem and classifier weights are detached,
  like the official deepcopy whose weight gradients are discarded. The weights learn through full-precision
  computations only: the objective, the (not detached) softmax(f_w) target and g^32_l. No gradient estimator
  reaches the weights, which is the paper's point.
- "low": the objective is the b-bit model's cross-entropy and every term back-propagates through the b-bit
  branch with the straight-through estimator. With no constraint this IS the DoReFa baseline's loss (same
  forward passes, same gradients), so comparing the two isolates what the constraints add.

Layer-wise constraints compare like with like: the same convolution on the same quantized input at 32 and at b
bits, both clipped, the b-bit output quantized as the next layer sees it; the shortcut's constraint compares the
skip convolution's own two outputs, as the official code does. The official code differs for conv0 of each block:
its b-bit side is taken after bn1 (its 32-bit side has no BN), which we take for a slip. Gradients of the layer
constraints (``layer_targets``): "official" (default), as train_pd_layers.py, detaches the b-bit side of the conv1
and shortcut constraints, so they reach the b-bit BatchNorm parameters only through their inputs; "attached"
keeps every b-bit side in the graph (19-46 % larger b-bit BatchNorm gradients; the weights' are the same).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..data import DeviceLoader
from ..models.preact_resnet import SwitchableBatchNorm2d, set_precision
from ..nn import QConv2d
from ..quantizers.dorefa import FULL, dorefa_activation, dorefa_weight
from ..train import Objective
from ..train.distributed import all_reduce_

CONSTRAINTS = ("none", "output", "layerwise")
OBJECTIVES = ("high", "low")
LAYER_TARGETS = ("official", "attached")
DETACHED_TARGETS = ("conv1", "shortcut")  # layers whose b-bit side the official code detaches
OUTPUT = "output"


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample -sum_c p_c log softmax(logits)_c for target probabilities p."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1)


def dual_ascent(dual: torch.Tensor, values: torch.Tensor, epsilon: torch.Tensor, lr: float) -> torch.Tensor:
    """One projected dual ascent step: lambda <- max(0, lambda + lr * (value - epsilon))."""
    return torch.relu(dual + lr * (values - epsilon))


WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # torch.compile's and DistributedDataParallel's


def bare_name(name: str) -> str:
    """A parameter's name in the unwrapped model: without the prefixes that compile and DDP wrappers add."""
    while name.startswith(WRAPPER_PREFIXES):
        name = name.split(".", 1)[1]
    return name


class LayerTaps(contextlib.AbstractContextManager):
    """Forward hooks keeping each watched layer's quantized input (its act_quantizer's output) and its output."""

    def __init__(self, layers: dict[str, QConv2d]):
        self.layers = layers
        self.inputs: dict[str, torch.Tensor] = {}
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    @staticmethod
    def _keep(store: dict[str, torch.Tensor], name: str, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        store[name] = output

    def __enter__(self) -> LayerTaps:
        for name, layer in self.layers.items():
            self._handles.append(layer.act_quantizer.register_forward_hook(partial(self._keep, self.inputs, name)))
            self._handles.append(layer.register_forward_hook(partial(self._keep, self.outputs, name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def layer_mse(taps: LayerTaps, bits: int, detached: frozenset[str] = frozenset()) -> torch.Tensor:
    """Per-sample mean of (clip(g^32_l(z_l)) - Q_b(clip(g^b_l(z_l))))^2 for every tapped layer: batch x L; the
    b-bit side of the layers named in ``detached`` passes no gradient."""
    errors = []
    for name, layer in taps.layers.items():
        high = F.hardtanh(layer._conv_forward(taps.inputs[name], dorefa_weight(layer.weight, FULL), layer.bias), 0, 1)
        low = dorefa_activation(taps.outputs[name], bits)
        if name in detached:
            low = low.detach()
        errors.append((high - low).float().square().flatten(1).mean(dim=1))
    return torch.stack(errors, dim=1)


class PrimalDual(Objective):
    """The PD-QAT Lagrangian of one b-bit model (see module docstring); duals are its state."""

    def __init__(self, model: nn.Module, layers: dict[str, QConv2d], bits: int, constraint: str, epsilon: float,
                 epsilon_layer: float, dual_lr: float, objective: str, layer_targets: str = "official"):
        self.layers, self.bits, self.constraint, self.objective = layers, bits, constraint, objective
        self.detached = frozenset(name for name in layers if layer_targets == "official"
                                  and name.rsplit(".", 1)[-1] in DETACHED_TARGETS)
        self.dual_lr = dual_lr
        self.names = {"none": [], "output": [OUTPUT], "layerwise": [*layers, OUTPUT]}[constraint]
        self.epsilon = torch.tensor([epsilon if n == OUTPUT else epsilon_layer for n in self.names],
                                    dtype=torch.float64)
        self.dual = torch.tensor([1.0 if n == OUTPUT else 0.0 for n in self.names], dtype=torch.float64)
        # the b-bit BatchNorm parameters: the only ones the b-bit branch trains under the official gradients
        self.live = {f"{module_name}.bns.{bits}.{name}"
                     for module_name, module in model.named_modules() if isinstance(module, SwitchableBatchNorm2d)
                     for name, _ in module.bns[str(bits)].named_parameters()}

    def _low(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The b-bit forward pass; under the official gradients only the b-bit BatchNorm parameters stay attached."""
        if self.objective == "low":
            return model(x)
        detached = {name: p.detach() for name, p in model.named_parameters() if bare_name(name) not in self.live}
        return functional_call(model, detached, (x,))

    def _forward(self, model: nn.Module, x: torch.Tensor, low_forward: Callable, tap: bool
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(high-precision logits, b-bit logits, per-sample values: batch x (L layer MSEs if ``tap``, output CE))."""
        set_precision(model, FULL)
        high = model(x)
        set_precision(model, self.bits)
        with LayerTaps(self.layers if tap else {}) as taps:
            low = low_forward(model, x)
        output = soft_cross_entropy(low.float(), F.softmax(high.float(), dim=1))[:, None]
        layers = layer_mse(taps, self.bits, self.detached) if tap and self.layers else None
        return high, low, output if layers is None else torch.cat([layers, output], dim=1)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.names and self.objective == "low":
            return super().loss(model, x, y)  # exactly the baseline's b-bit cross-entropy
        if not self.names:
            set_precision(model, FULL)
            high = model(x)
            set_precision(model, self.bits)
            low = self._low(model, x)  # updates the b-bit BatchNorm statistics, as the official code does
            return F.cross_entropy(high, y), low
        high, low, per_sample = self._forward(model, x, self._low, tap=self.constraint == "layerwise")
        lagrangian = F.cross_entropy(high if self.objective == "high" else low, y)
        for dual, value, epsilon in zip(self.dual.tolist(), per_sample.mean(dim=0), self.epsilon.tolist()):
            lagrangian = lagrangian + dual * (value - epsilon)
        return lagrangian, low

    @torch.no_grad()
    def end_epoch(self, model: nn.Module, train_loader: DeviceLoader, epoch: int) -> dict[str, Any]:
        """Dual ascent on the training split's mean slacks; per-layer MSE, output CE, duals, slacks for the record."""
        if not self.names:
            return {}
        was_training = model.training
        model.eval()
        state = train_loader.state_dict()
        # per-layer sums, then correct (high, low) and count: accumulated on the device, one transfer at the end,
        # and summed over the processes of a data-parallel run (each has its shard), so every process takes the
        # same dual step
        totals = torch.zeros(len(self.layers) + 4, dtype=torch.float64, device=train_loader.device)
        for x, y in train_loader:
            high, low, per_sample = self._forward(model, x, lambda m, inputs: m(inputs), tap=True)
            totals[:-3] += per_sample.sum(dim=0).double()
            totals[-3] += (high.argmax(1) == y).sum()
            totals[-2] += (low.argmax(1) == y).sum()
            totals[-1] += y.numel()
        train_loader.load_state_dict(state)  # restored: the dual step does not shift the training batches
        model.train(was_training)
        totals = all_reduce_(totals).cpu()
        sums, (correct_high, correct_low, count) = totals[:-3], totals[-3:].tolist()
        means = sums / count
        values = means if self.constraint == "layerwise" else means[-1:]
        slack = values - self.epsilon
        self.dual = dual_ascent(self.dual, values, self.epsilon, self.dual_lr)
        return {
            "dual": self.dual.tolist(),
            "slack": slack.tolist(),
            "layer_mse": means[:-1].tolist(),
            "output_ce": means[-1].item(),
            "train_top1_high_eval": 100.0 * correct_high / count,
            "train_top1_low_eval": 100.0 * correct_low / count,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"dual": self.dual.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dual = state["dual"].detach().to("cpu", torch.float64)
