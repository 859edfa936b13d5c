"""PD-QAT (Hounie, Elenter, Ribeiro, ICASSP 2023): the method and its paper's constraint levels.

The chapter (qrepro.chapters.pdqat) trains PD-QAT's pre-activation ResNet-20 ("resnet20q",
qrepro.models.preact_resnet) with DoReFa weights and activations (qrepro.quantizers.dorefa) in its 18 block
convolutions and 2 shortcut convolutions; the stem and the classifier stay in full precision (ihounie/con-qat
models/resnet_quan.py).

- ``dorefa`` (qrepro.methods.dorefa, any model), the baseline: plain straight-through QAT of the b-bit model,
  loss CE(f^q_w(x), y). The official "DoReFa baseline" mixed two procedures across seeds (ihounie/con-qat git
  history: Any-Precision joint training with distillation for seeds 0-2, train_anyprec.py --vanilla; PD-QAT's loop
  with a frozen output dual for seeds 3-5, train_vanilla.py --vanilla); plain STE-QAT is what the name says and
  is what we run. At 32 bits it trains the full-precision model
  (tanh-normalized weights, clipped activations), the reference every accuracy drop is measured against.
- ``pdqat``: the constrained problem of qrepro.methods.pdqat_constraints, solved primal-dual; its ``objective``
  option chooses the official gradients ("high") or the b-bit cross-entropy with STE ("low"), with which
  ``constraint="none"`` is the baseline exactly.

Both take ``high_precision_layers`` (indices of layers kept at 32 bits in the b-bit model: mixed precision, see
qrepro.methods.mixed_precision) and ``validation`` (the fraction of the training split held out; its accuracy is
recorded every epoch and the record adds the test accuracy at the best-validation epoch, the paper's selection).

Schedule (official scripts/ours_only_CE.sh, scripts/baseline_vanilla.sh, train_pd_layers.py defaults): Adam lr
1e-3, weight decay 0, batch 128, 100 epochs, lr x0.1 at 50/75/90, dual lr 0.01, 10% of the training split held
out; constraint levels of the paper's table (official notebooks/final_table.ipynb) per bit-width.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from ..config import TrainConfig
from ..nn import quantized_layers
from ..quantizers.dorefa import DOREFA_BITS, FULL
from .dorefa import DoReFa
from .mixed_precision import body_layers
from .pdqat_constraints import CONSTRAINTS, LAYER_TARGETS, OBJECTIVES, OUTPUT, PrimalDual

# constraint levels of the paper's Table 1, official notebooks/final_table.ipynb
EPSILON_OUT = {8: 1 / 255, 4: 0.1, 2: 0.7, 1: 0.9}
EPSILON_LAYER = {8: 0.1, 4: 0.5, 2: 1 / 3, 1: 1.0}
DUAL_LR = 0.01


def paper_epsilon(bits: int) -> float:
    """The output-constraint level of the paper's Table 1 at ``bits`` (3 bits, absent there: the 4-bit level)."""
    return EPSILON_OUT.get(bits, EPSILON_OUT[4])


def constraint_settings(options: dict[str, Any]) -> dict[str, Any]:
    """PD-QAT's options, checked, with defaults: constraint, epsilon, epsilon_layer, dual_lr, objective."""
    constraint = options.get("constraint", "output")
    if constraint not in CONSTRAINTS:
        raise ValueError(f"unknown constraint type {constraint!r}; valid: {', '.join(CONSTRAINTS)}")
    levels = {"none": (), "output": ("epsilon",), "layerwise": ("epsilon", "epsilon_layer")}[constraint]
    for name in ("epsilon", "epsilon_layer"):
        if name in options and name not in levels:
            raise ValueError(f"{name} does not apply to constraint={constraint}; it takes {list(levels) or 'none'}")
        if name in levels and name not in options:
            raise ValueError(f"constraint={constraint} needs the constraint level {name} (>= 0)")
        if name in options and not options[name] >= 0:
            raise ValueError(f"constraint level {name} must be >= 0, got {options[name]!r}")
    dual_lr = options.get("dual_lr", DUAL_LR)
    if not dual_lr > 0:
        raise ValueError(f"the dual learning rate dual_lr must be > 0, got {dual_lr!r}")
    objective = options.get("objective", "high")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    layer_targets = options.get("layer_targets", "official")
    if layer_targets not in LAYER_TARGETS:
        raise ValueError(f"unknown layer_targets {layer_targets!r}; valid: {', '.join(LAYER_TARGETS)}")
    return {"constraint": constraint, "epsilon": options.get("epsilon", 0.0),
            "epsilon_layer": options.get("epsilon_layer", 0.0), "dual_lr": dual_lr, "objective": objective,
            "layer_targets": layer_targets}


class PDQAT(DoReFa):
    """Primal-dual training under quantization constraints (qrepro.methods.pdqat_constraints).

    It evaluates one set of weights at b and at 32 bits, so it needs a switchable-BatchNorm model built with both.
    """

    name = "pdqat"
    supported_bits = tuple(b for b in DOREFA_BITS if b != FULL)
    options = (*DoReFa.options, "constraint", "epsilon", "epsilon_layer", "dual_lr", "objective", "layer_targets")

    def bit_widths(self, bits: int) -> set[int]:
        return {bits, FULL}

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        constraint_settings(config.options)

    def objective(self, model: nn.Module, config: TrainConfig) -> PrimalDual:
        quantized = quantized_layers(model)
        layers = {name: quantized[name] for name in body_layers(model) if not quantized[name].weight_quantizer.pinned}
        return PrimalDual(model, layers, config.bits, **constraint_settings(config.options))

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Also the constraints (per-epoch "dual" and "slack" follow this order) and their levels."""
        objective = self.objective(model, config)
        return {**super().summarize(model, config), "constraints": objective.names,
                "epsilon": objective.epsilon.tolist(), "objective": objective.objective}


METHODS = (PDQAT(),)


def layer_duals(record: dict[str, Any]) -> list[float]:
    """The final dual of every layer constraint of a recorded PD-QAT run, in layer order (``summarize`` names the
    constraints, ``PrimalDual`` records the duals per epoch in that order)."""
    names, final = record["summary"]["constraints"], record["epochs"][-1]["dual"]
    return [value for name, value in zip(names, final) if name != OUTPUT]


def body_layer_count(record: dict[str, Any]) -> int:
    """How many quantizable body layers the recorded run's model has (``DoReFa.summarize`` lists them)."""
    return len(record["summary"]["layers"])
