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

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import TrainConfig
from ..nn import quantized_layers
from ..quantizers.dorefa import DOREFA_BITS, FULL
from .dorefa import DoReFa, DoReFaOptions, body_layer_names
from .mixed_precision import body_layers
from .pdqat_constraints import CONSTRAINTS, LAYER_TARGETS, OBJECTIVES, OUTPUT, PrimalDual

# constraint levels of the paper's Table 1, official notebooks/final_table.ipynb
EPSILON_OUT = {8: 1 / 255, 4: 0.1, 2: 0.7, 1: 0.9}
EPSILON_LAYER = {8: 0.1, 4: 0.5, 2: 1 / 3, 1: 1.0}
DUAL_LR = 0.01


def paper_epsilon(bits: int) -> float:
    """The output-constraint level of the paper's Table 1 at ``bits`` (3 bits, absent there: the 4-bit level)."""
    return EPSILON_OUT.get(bits, EPSILON_OUT[4])


@dataclass(frozen=True)
class PDQATOptions(DoReFaOptions):
    constraint: str = "output"  # none | output | layerwise
    epsilon: float | None = None  # output-constraint level (output, layerwise: required, >= 0)
    epsilon_layer: float | None = None  # per-layer constraint level (layerwise: required, >= 0)
    dual_lr: float = DUAL_LR  # dual ascent step size, > 0
    objective: str = "high"  # high: the official objective and gradients; low: b-bit cross-entropy with STE
    layer_targets: str = "official"  # official: the low side of conv1 and shortcut constraints detached | attached

    def check(self) -> None:
        super().check()
        if self.constraint not in CONSTRAINTS:
            raise ValueError(f"unknown constraint type {self.constraint!r}; valid: {', '.join(CONSTRAINTS)}")
        levels = {"none": (), "output": ("epsilon",), "layerwise": ("epsilon", "epsilon_layer")}[self.constraint]
        for name in ("epsilon", "epsilon_layer"):
            value = getattr(self, name)
            if value is not None and name not in levels:
                raise ValueError(f"{name} does not apply to constraint={self.constraint}; it takes "
                                 f"{list(levels) or 'none'}")
            if name in levels and value is None:
                raise ValueError(f"constraint={self.constraint} needs the constraint level {name} (>= 0)")
            if value is not None and not value >= 0:
                raise ValueError(f"constraint level {name} must be >= 0, got {value!r}")
        if not self.dual_lr > 0:
            raise ValueError(f"the dual learning rate dual_lr must be > 0, got {self.dual_lr!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; valid: {', '.join(OBJECTIVES)}")
        if self.layer_targets not in LAYER_TARGETS:
            raise ValueError(f"unknown layer_targets {self.layer_targets!r}; valid: {', '.join(LAYER_TARGETS)}")


class PDQAT(DoReFa):
    """Primal-dual training under quantization constraints (qrepro.methods.pdqat_constraints).

    It evaluates one set of weights at b and at 32 bits, so it needs a switchable-BatchNorm model built with both.
    """

    name = "pdqat"
    supported_bits = tuple(b for b in DOREFA_BITS if b != FULL)
    Options = PDQATOptions

    def scoreboard_options(self, bits: int) -> dict[str, Any]:
        """The paper's output-constraint level at ``bits`` (``paper_epsilon``)."""
        return {"epsilon": paper_epsilon(bits)}

    def precisions(self, bits: int) -> set[int]:
        return {bits, FULL}

    def objective(self, model: nn.Module, config: TrainConfig) -> PrimalDual:
        quantized = quantized_layers(model)
        layers = {name: quantized[name] for name in body_layers(model) if not quantized[name].weight_quantizer.pinned}
        o = self.options(config)
        return PrimalDual(model, layers, config.bits, o.constraint, epsilon=o.epsilon or 0.0,
                          epsilon_layer=o.epsilon_layer or 0.0, dual_lr=o.dual_lr, objective=o.objective,
                          layer_targets=o.layer_targets)

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """Also the constraints (per-epoch "dual" and "slack" follow this order) and their levels."""
        objective = self.objective(model, config)
        return {**super().summarize(model, config), "constraints": objective.names,
                "epsilon": objective.epsilon.tolist(), "objective": objective.objective}


METHODS = (PDQAT(),)


# Readers of a recorded PD-QAT run: ``summarize`` names the constraints (layers in index order, then "output"),
# and every epoch of the record holds "dual" and "slack" in that order, and "layer_mse" per body layer.

def duals(record: dict[str, Any], epoch: int = -1) -> dict[str, float]:
    """Every constraint's dual after ``epoch``'s dual step (default: the last), by constraint name."""
    return dict(zip(record["summary"]["constraints"], record["epochs"][epoch].get("dual", [])))


def dual_history(record: dict[str, Any]) -> list[tuple[int, str, float]]:
    """(epoch, constraint, dual) after every epoch's dual step."""
    return [(e["epoch"], name, value)
            for i, e in enumerate(record["epochs"]) for name, value in duals(record, i).items()]


def layer_duals(record: dict[str, Any]) -> list[float]:
    """The final dual of every layer constraint, in layer order."""
    return [value for name, value in duals(record).items() if name != OUTPUT]


def final_layer_values(record: dict[str, Any], key: str) -> dict[str, float]:
    """A per-layer metric of the last epoch (e.g. "layer_mse"), by body layer."""
    return dict(zip(body_layer_names(record), record["epochs"][-1][key]))


def largest_layer_mse(record: dict[str, Any]) -> float:
    """The largest per-layer MSE between the 32-bit and b-bit outputs seen in any epoch."""
    return max(max(e["layer_mse"]) for e in record["epochs"])
