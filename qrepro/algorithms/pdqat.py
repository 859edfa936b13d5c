"""PD-QAT (Hounie, Elenter, Ribeiro, ICASSP 2023): the method, the schedule and the chapter's runs in two phases.

The chapter trains PD-QAT's pre-activation ResNet-20 ("resnet20q", qrepro.models.preact_resnet) with DoReFa
weights and activations (qrepro.quantizers.dorefa) in its 18 block convolutions and 2 shortcut convolutions; the
stem and the classifier stay in full precision (ihounie/con-qat models/resnet_quan.py).

- ``dorefa`` (qrepro.algorithms.dorefa, any model), the baseline: plain straight-through QAT of the b-bit model,
  loss CE(f^q_w(x), y). The official "DoReFa baseline" mixed two procedures across seeds (ihounie/con-qat git
  history: Any-Precision joint training with distillation for seeds 0-2, train_anyprec.py --vanilla; PD-QAT's loop
  with a frozen output dual for seeds 3-5, train_vanilla.py --vanilla); plain STE-QAT is what the name says and
  is what we run. At 32 bits it trains the full-precision model
  (tanh-normalized weights, clipped activations), the reference every accuracy drop is measured against.
- ``pdqat``: the constrained problem of qrepro.algorithms.pdqat_constraints, solved primal-dual; its ``objective``
  option chooses the official gradients ("high") or the b-bit cross-entropy with STE ("low"), with which
  ``constraint="none"`` is the baseline exactly.

Both take ``high_precision_layers`` (indices of layers kept at 32 bits in the b-bit model: mixed precision, see
qrepro.algorithms.mixed_precision) and ``validation`` (the fraction of the training split held out; its accuracy is
recorded every epoch and the record adds the test accuracy at the best-validation epoch, the paper's selection).

Schedule (official scripts/ours_only_CE.sh, scripts/baseline_vanilla.sh, train_pd_layers.py defaults): Adam lr
1e-3, weight decay 0, batch 128, 100 epochs, lr x0.1 at 50/75/90, dual lr 0.01, 10% of the training split held
out; constraint levels of the paper's table (official notebooks/final_table.ipynb) per bit-width.

The chapter runs in two phases: ``sweep`` (Table 1, the epsilon study, the Fig. 1 runs; see ``plan``), then
``mixed_sweep`` (the mixed-precision retraining of Fig. 1b/c, ranked by the duals of the first phase's records;
see ``mixed_phase``), registered in qrepro.algorithms.SWEEPS and FOLLOWUPS; the notebook calls the same functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import Schedule, TrainConfig, config_from_dict
from ..nn import quantized_layers
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from ..quantizers.dorefa import DOREFA_BITS, FULL
from .dorefa import DoReFa
from .mixed_precision import SELECTION_RULES, arch_layers, body_layers, check_high_precision, select_layers
from .pdqat_constraints import CONSTRAINTS, LAYER_TARGETS, OBJECTIVES, PrimalDual

CHAPTER = "pdqat"
ARCHS = ("preact_resnet20",)  # the chapter's models (switchable BatchNorm, as PD-QAT needs)
TABLE_BITS = (1, 2, 4, 8)  # the bit-widths of the paper's Table 1
# constraint levels of the paper's Table 1, official notebooks/final_table.ipynb
EPSILON_OUT = {8: 1 / 255, 4: 0.1, 2: 0.7, 1: 0.9}
EPSILON_LAYER = {8: 0.1, 4: 0.5, 2: 1 / 3, 1: 1.0}
# the layer-wise level of the Fig. 1 runs, whose duals rank the layers (official notebooks/per_layer_l2.ipynb)
FIG1_EPSILON_LAYER = 0.0125
DUAL_LR = 0.01
MIXED_COUNTS = "2,4"  # numbers of layers kept in high precision in the mixed-precision retraining (paper: 1,2,4,8)
MIXED_RULES = ",".join(SELECTION_RULES)
VALIDATION = 0.1  # fraction of the training split held out (official --val_frac 0.1)


@dataclass(frozen=True)
class ProfileSettings:
    epochs: int
    batch_size: int
    width: int  # the network's width multiplier (paper: 5)


PROFILES = {
    "smoke": ProfileSettings(epochs=4, batch_size=64, width=1),
    "quick": ProfileSettings(epochs=20, batch_size=128, width=5),
    "paper": ProfileSettings(epochs=100, batch_size=128, width=5),
}


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
    """Primal-dual training under quantization constraints (qrepro.algorithms.pdqat_constraints).

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


def schedule(profile: str, epochs: int = 0) -> Schedule:
    """The official recipe with the profile's length (``epochs`` > 0 overrides it); lr x0.1 at 50/75/90%."""
    settings = PROFILES[get_profile(profile).name]
    n = epochs or settings.epochs
    milestones = tuple(m for m in dict.fromkeys((n // 2, n * 3 // 4, n * 9 // 10)) if m > 0)
    return Schedule(epochs=n, batch_size=settings.batch_size, optimizer="adam", lr=1e-3, weight_decay=0.0,
                    lr_schedule="step", milestones=milestones, gamma=0.1)


def run_config(method: str, bits: int, options: dict[str, Any], *, arch: str, profile: str, data: str, epochs: int,
               seed: int) -> TrainConfig:
    """One run of the chapter: the method's options plus the held-out fraction, the profile's width and schedule."""
    needs_full = method == "pdqat"
    return TrainConfig(
        chapter=CHAPTER, data=data, arch=arch, schedule=schedule(profile, epochs), method=method, bits=bits,
        options={**options, "validation": VALIDATION},
        arch_options={"width": PROFILES[profile].width, "bit_widths": sorted({bits, FULL} if needs_full else {bits})},
        seed=seed, profile=profile,
    )


@dataclass(frozen=True)
class Planned:
    """A run with its role in the chapter: part (table, epsilon, fig1, manual, mixed) and row label."""

    part: str
    row: str  # full precision | baseline | none | output | layerwise | mixed
    config: TrainConfig
    rule: str = ""  # mixed: how the high-precision layers were chosen
    count: int = 0  # mixed: how many layers are kept in high precision


def pdqat_options(constraint: str, bits: int, dual_lr: float, objective: str, epsilon: float | None = None,
                  epsilon_layer: float | None = None) -> dict[str, Any]:
    """Options of a PD-QAT run; constraint levels default to the paper's for ``bits``."""
    options: dict[str, Any] = {"constraint": constraint, "dual_lr": dual_lr, "objective": objective}
    if constraint != "none":
        options["epsilon"] = EPSILON_OUT[bits] if epsilon is None else epsilon
    if constraint == "layerwise":
        options["epsilon_layer"] = EPSILON_LAYER[bits] if epsilon_layer is None else epsilon_layer
    return options


def plan(bit: Any = "1", constraint: Any = "output,layerwise", epsilon: Any = "",
         epsilon_layer: float = FIG1_EPSILON_LAYER, dual_lr: float = DUAL_LR, objective: str = "high",
         high_precision_layers: Any = "", arch: str = "preact_resnet20", profile: str = "smoke", data: str = "",
         epochs: int = 0, seeds: int = 1) -> list[Planned]:
    """The chapter's first phase: every run but the mixed-precision retraining (``mixed_phase``), with its role.

    table:   full precision, the baseline and PD-QAT per ``constraint`` at each ``bit``, paper constraint levels;
    epsilon: the output constraint at the lowest bit at each ``epsilon`` (and the paper's level);
    fig1:    at the lowest bit, output only (paper level) and layer-wise at ``epsilon_layer`` (its duals rank layers);
    manual:  the baseline at the lowest bit with ``high_precision_layers`` kept in high precision, if any.
    """
    bits = parse_list(bit, int, "bit", choices=TABLE_BITS)
    constraints = parse_list(constraint, str, "constraint", choices=CONSTRAINTS)
    epsilons = parse_list(epsilon, float, "epsilon") if str(epsilon).strip() else []
    if any(e < 0 for e in epsilons):
        raise ValueError(f"parameter epsilon={epsilon!r}: constraint levels must be >= 0")
    expect("epsilon_layer", epsilon_layer, float, minimum=0)
    dual_lr = expect("dual_lr", dual_lr, float)
    if not dual_lr > 0:
        raise ValueError(f"parameter dual_lr (the dual learning rate) must be > 0, got {dual_lr!r}")
    expect("objective", objective, str, choices=OBJECTIVES)
    expect("arch", arch, str, choices=ARCHS)
    expect("profile", profile, str, choices=tuple(PROFILES))
    expect("data", data, str)
    expect("epochs", epochs, int, minimum=0)
    expect("seeds", seeds, int, minimum=1)
    keep = []
    if str(high_precision_layers).strip():
        names = arch_layers(arch, {})
        keep = check_high_precision(parse_list(high_precision_layers, int, "high_precision_layers"), names)
    data = resolve_data(profile, data)
    low = min(bits)

    def run(method: str, b: int, options: dict[str, Any], seed: int) -> TrainConfig:
        return run_config(method, b, options, arch=arch, profile=profile, data=data, epochs=epochs, seed=seed)

    def pd(constraint: str, b: int, seed: int, **levels: float) -> TrainConfig:
        return run("pdqat", b, pdqat_options(constraint, b, dual_lr, objective, **levels), seed)

    planned = []
    for seed in range(seeds):
        planned.append(Planned("table", "full precision", run("dorefa", FULL, {}, seed)))
        for b in sorted(bits, reverse=True):
            planned.append(Planned("table", "baseline", run("dorefa", b, {}, seed)))
            planned += [Planned("table", c, pd(c, b, seed)) for c in constraints]
        planned += [Planned("epsilon", "output", pd("output", low, seed, epsilon=e))
                    for e in sorted({*epsilons, EPSILON_OUT[low]})]
        planned.append(Planned("fig1", "output", pd("output", low, seed)))
        planned.append(Planned("fig1", "layerwise", pd("layerwise", low, seed, epsilon_layer=epsilon_layer)))
        if keep:
            planned.append(Planned("manual", "mixed", run("dorefa", low, {"high_precision_layers": keep}, seed),
                                   rule="by hand", count=len(keep)))
    return planned


def mixed_plan(selection: list[dict[str, Any]], counts: Any = MIXED_COUNTS, rules: Any = MIXED_RULES
               ) -> list[Planned]:
    """The mixed-precision retraining runs of Fig. 1b/c: the baseline at the selection runs' bit-width with
    ``count`` layers kept in high precision, chosen by ``rule`` from the final duals of ``selection`` (the records
    of the fig1 layer-wise runs of ``plan``, one per seed; the duals are averaged over them, as the paper does).

    Each retraining run starts from scratch, as the official train_selec.py, with the seeds of ``selection``.
    The random choice is drawn once per count (generator seed = count) and shared by all training seeds.
    """
    if not selection:
        raise ValueError("mixed precision needs the records of the layer-wise runs whose duals rank the layers")
    configs = [config_from_dict(record["config"]) for record in selection]
    if any(c.method != "pdqat" or c.options.get("constraint") != "layerwise" for c in configs):
        raise ValueError("the layers are ranked by the duals of layer-wise PD-QAT runs; got other runs")
    numbers, chosen_rules = mixed_choices(counts, rules, len(selection[0]["summary"]["layers"]))
    duals = mean_layer_duals(selection)
    planned = []
    for reference in configs:
        for rule in chosen_rules:
            for count in numbers:
                keep = sorted(select_layers(duals, count, rule, seed=count))
                config = run_config("dorefa", reference.bits, {"high_precision_layers": keep}, arch=reference.arch,
                                    profile=reference.profile, data=reference.data,
                                    epochs=reference.schedule.epochs, seed=reference.seed)
                planned.append(Planned("mixed", "mixed", config, rule=rule, count=count))
    return planned


def mixed_choices(counts: Any, rules: Any, layers: int) -> tuple[list[int], list[str]]:
    """``counts`` and ``rules`` as lists, checked for a model with ``layers`` quantizable body layers."""
    return (parse_list(counts, int, "counts", choices=range(1, layers + 1)),
            parse_list(rules, str, "rules", choices=SELECTION_RULES))


def mean_layer_duals(records: list[dict[str, Any]]) -> list[float]:
    """Final dual of every layer constraint, averaged over the records (runs that differ only in seed)."""
    per_run = []
    for record in records:
        names = record["summary"]["constraints"]
        final = record["epochs"][-1]["dual"]
        per_run.append([value for name, value in zip(names, final) if name != "output"])
    return [sum(values) / len(values) for values in zip(*per_run)]


def unique_configs(planned: list[Planned]) -> list[TrainConfig]:
    """The planned runs' configs, each once, in order."""
    return list({p.config.run_id: p.config for p in planned}.values())


def fig1_selection(planned: list[Planned], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the fig1 layer-wise runs of ``planned`` (one per seed): the runs whose duals rank the layers."""
    wanted = [p.config.run_id for p in planned if p.part == "fig1" and p.row == "layerwise"]
    found = {record["run_id"]: record for record in records}
    missing = [run_id for run_id in wanted if run_id not in found]
    if missing:
        raise ValueError(f"mixed precision ranks the layers by the duals of the layer-wise runs {missing}, which "
                         f"have no record among those given: run the chapter's first phase (sweep) first")
    return [found[run_id] for run_id in wanted]


def mixed_phase(planned: list[Planned], records: list[dict[str, Any]], counts: Any = MIXED_COUNTS,
                rules: Any = MIXED_RULES) -> list[Planned]:
    """The chapter's second phase: ``mixed_plan`` ranked by the fig1 layer-wise records of the first phase.

    ``planned`` is the first phase (``plan``), ``records`` its runs' records (any order, others allowed)."""
    return mixed_plan(fig1_selection(planned, records), counts=counts, rules=rules)


def sweep(bit: Any = "1", constraint: Any = "output,layerwise", epsilon: Any = "",
          epsilon_layer: float = FIG1_EPSILON_LAYER, dual_lr: float = DUAL_LR, objective: str = "high",
          high_precision_layers: Any = "", arch: str = "preact_resnet20", profile: str = "smoke", data: str = "",
          epochs: int = 0, seeds: int = 1) -> list[TrainConfig]:
    """Every run of the chapter's first phase (see ``plan``), each once."""
    return unique_configs(plan(**locals()))


def mixed_sweep(records: list[dict[str, Any]], counts: Any = MIXED_COUNTS, rules: Any = MIXED_RULES,
                **parameters: Any) -> list[TrainConfig]:
    """Every run of the chapter's second phase (``mixed_phase``), each once, from the records of the first phase's
    runs; ``parameters`` are those of ``sweep`` that made them (qrepro.algorithms.FOLLOWUPS).

    With no records it only checks ``counts`` and ``rules`` and plans nothing (before the first phase runs)."""
    planned = plan(**parameters)
    if not records:
        mixed_choices(counts, rules, len(arch_layers(planned[0].config.arch, {})))
        return []
    return unique_configs(mixed_phase(planned, records, counts=counts, rules=rules))
