"""The PD-QAT chapter: Table 1, the epsilon study and Fig. 1, then the mixed-precision retraining of Fig. 1b/c.

The first phase (``plan``) trains, per seed: the full-precision model and the DoReFa baseline and PD-QAT per
constraint at each bit-width (the paper's constraint levels), the output constraint at the lowest bit-width at
each extra epsilon, and the two Fig. 1 runs whose duals rank the layers. The second phase (``followup``) retrains
the baseline with the layers those duals rank highest (or lowest, or at random) kept in high precision.

Schedule (official scripts/ours_only_CE.sh, scripts/baseline_vanilla.sh, train_pd_layers.py defaults): Adam lr
1e-3, weight decay 0, batch 128, 100 epochs, lr x0.1 at 50/75/90, 10 % of the training split held out. The
methods are ``qrepro.methods.dorefa`` and ``qrepro.methods.pdqat``.

``lite`` (a 2-core CPU) keeps this recipe at 10 epochs a run and width 1 (the paper's width 5 costs 25 times the
multiply-adds), and starts from the converged full-precision pre-activation ResNet-20 every lite chapter shares
(``qrepro.chapters.parents``) instead of from scratch: the chapter's full-precision model (DoReFa's tanh weights
and clipped activations at 32 bits) is that network trained one run further by the recipe, and every b-bit run
(baseline, PD-QAT, mixed precision) starts from it, its b-bit BatchNorms from its 32-bit ones. The table runs at 2
and 4 bits there; the paper's 1-bit column, and Fig. 1's 1-bit study, need a GPU. Its epsilon study adds the
official ablation's 2-bit output levels (0.05, 0.1, 0.2) to the paper's 0.7, at seed 0 only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import Schedule, TrainConfig, config_from_dict
from ..methods import get_method
from ..methods.mixed_precision import SELECTION_RULES, arch_layers, check_high_precision, select_layers
from ..methods.dorefa import body_layer_names
from ..methods.pdqat import DUAL_LR, EPSILON_LAYER, EPSILON_OUT, layer_duals
from ..methods.pdqat_constraints import CONSTRAINTS, OBJECTIVES
from ..params import expect, parse_list
from ..profiles import get_profile, resolve_data
from ..quantizers.dorefa import FULL
from . import parents
from .base import WEIGHTS_AND_ACTIVATIONS, Chapter, ChapterParams, Entry, Planned, Reference, Run
from .reference import pdqat as reference

CHAPTER_NAME = "pdqat"
ARCHS = ("preact_resnet20",)  # the chapter's models (switchable BatchNorm, as PD-QAT needs)
TABLE_BITS = (1, 2, 4, 8)  # the bit-widths of the paper's Table 1
# the layer-wise level of the Fig. 1 runs, whose duals rank the layers (official notebooks/per_layer_l2.ipynb)
FIG1_EPSILON_LAYER = 0.0125
VALIDATION = 0.1  # fraction of the training split held out (official --val_frac 0.1)


@dataclass(frozen=True)
class ProfileSettings:
    """What a profile changes in the chapter: length, batch size, the network's width and the default bit-widths."""

    epochs: int
    batch_size: int
    width: int  # the network's width multiplier (paper: 5)
    bits: str = "1"  # the ``bit`` parameter's default: Table 1 bit-widths
    epsilons: str = ""  # the ``epsilon`` parameter's default: the epsilon study's extra output levels
    epsilon_seeds: int = 0  # the epsilon study's extra levels run for seeds 0 .. epsilon_seeds-1 only (0: every seed)


SETTINGS = {
    "smoke": ProfileSettings(epochs=4, batch_size=64, width=1),
    # lite's epsilon study: the official ablation's 2-bit output levels (Ours_OnlyCE2.sh), at one seed
    "lite": ProfileSettings(epochs=10, batch_size=128, width=1, bits="2,4", epsilons="0.05,0.1,0.2", epsilon_seeds=1),
    "quick": ProfileSettings(epochs=20, batch_size=128, width=5),
    "paper": ProfileSettings(epochs=100, batch_size=128, width=5),
}


@dataclass(frozen=True)
class Params(ChapterParams):
    bit: str | int = ""  # Table 1 bit-widths among 1, 2, 4, 8 (empty: the profile's); Fig. 1, mixed precision: lowest
    constraint: Any = "output,layerwise"  # PD-QAT rows beside the baseline: none, output, layerwise
    epsilon: Any = ""  # extra output-constraint levels for the accuracy vs epsilon plot (empty: the profile's)
    epsilon_layer: float = FIG1_EPSILON_LAYER  # layer-wise level of the Fig. 1 run whose duals rank the layers
    dual_lr: float = DUAL_LR  # dual learning rate (paper: 0.01)
    objective: str = "high"  # high: the official objective and gradients; low: b-bit cross-entropy with STE
    high_precision_layers: Any = ""  # layer indices kept at 32 bits in one extra baseline run (empty: none)
    counts: Any = "2,4"  # numbers of layers kept in high precision for the mixed-precision plot (paper: 1,2,4,8)
    rules: Any = ",".join(SELECTION_RULES)  # how those layers are chosen from the duals
    arch: str = "preact_resnet20"  # the paper model (resnet20q)

    SETTINGS: ClassVar[Mapping[str, ProfileSettings]] = SETTINGS

    def check(self) -> None:
        _ = self.bits  # parses and checks the list
        parse_list(self.constraint, str, "constraint", choices=CONSTRAINTS)
        if any(e < 0 for e in self.epsilons):
            raise ValueError(f"parameter epsilon={self.epsilon!r}: constraint levels must be >= 0")
        expect("epsilon_layer", self.epsilon_layer, float, minimum=0)
        expect("dual_lr", self.dual_lr, float)
        if not self.dual_lr > 0:
            raise ValueError(f"parameter dual_lr (the dual learning rate) must be > 0, got {self.dual_lr!r}")
        expect("objective", self.objective, str, choices=OBJECTIVES)
        expect("arch", self.arch, str, choices=ARCHS)
        layers = arch_layers(self.arch, {})
        self.high_precision(layers)
        mixed_choices(self.counts, self.rules, len(layers))

    @property
    def bits(self) -> list[int]:
        """The Table 1 bit-widths: ``bit``, or the profile's default when empty."""
        return parse_list(self.bit or SETTINGS[self.profile].bits, int, "bit", choices=TABLE_BITS)

    @property
    def epsilons(self) -> list[float]:
        """The epsilon study's extra output levels: ``epsilon``, or the profile's default when empty."""
        levels = str(self.epsilon).strip() or SETTINGS[self.profile].epsilons
        return parse_list(levels, float, "epsilon") if levels else []

    def high_precision(self, names: Sequence[str]) -> list[int]:
        """The layers of the extra baseline run kept at 32 bits, checked against the model's ``names``."""
        if not str(self.high_precision_layers).strip():
            return []
        return check_high_precision(parse_list(self.high_precision_layers, int, "high_precision_layers"), names)


def schedule(profile: str, epochs: int = 0) -> Schedule:
    """The official recipe with the profile's length (``epochs`` > 0 overrides it); lr x0.1 at 50/75/90%."""
    settings = SETTINGS[get_profile(profile).name]
    n = epochs or settings.epochs
    milestones = tuple(m for m in dict.fromkeys((n // 2, n * 3 // 4, n * 9 // 10)) if m > 0)
    return Schedule(epochs=n, batch_size=settings.batch_size, optimizer="adam", lr=1e-3, weight_decay=0.0,
                    lr_schedule="step", milestones=milestones, gamma=0.1)


def run_config(method: str, bits: int, options: dict[str, Any], *, arch: str, profile: str, data: str, epochs: int,
               seed: int) -> TrainConfig:
    """One run of the chapter: the method's options plus the held-out fraction, the profile's width and schedule;
    from scratch, or under lite from the converged parent (the full-precision run) or the full-precision run."""
    init = None
    if get_profile(profile).name == "lite":
        width = {"width": SETTINGS["lite"].width}
        init = (parents.converged(arch, {**width, **get_method("fp").arch_options(arch, FULL)}, data, seed)
                if (method, bits) == ("dorefa", FULL) else
                run_config("dorefa", FULL, {}, arch=arch, profile=profile, data=data, epochs=epochs, seed=seed))
    return TrainConfig(
        chapter=CHAPTER_NAME, data=data, arch=arch, schedule=schedule(profile, epochs), method=method, bits=bits,
        options={**options, "validation": VALIDATION},
        arch_options={"width": SETTINGS[profile].width, **get_method(method).arch_options(arch, bits)},
        init=init, seed=seed, profile=profile,
    )


def pdqat_options(constraint: str, bits: int, dual_lr: float, objective: str, epsilon: float | None = None,
                  epsilon_layer: float | None = None) -> dict[str, Any]:
    """Options of a PD-QAT run; constraint levels default to the paper's for ``bits``."""
    options: dict[str, Any] = {"constraint": constraint, "dual_lr": dual_lr, "objective": objective}
    if constraint != "none":
        options["epsilon"] = EPSILON_OUT[bits] if epsilon is None else epsilon
    if constraint == "layerwise":
        options["epsilon_layer"] = EPSILON_LAYER[bits] if epsilon_layer is None else epsilon_layer
    return options


def plan(params: Params) -> list[Run]:
    """The chapter's first phase: every run but the mixed-precision retraining (``followup``), with its role.

    table:   full precision, the baseline and PD-QAT per ``constraint`` at each ``bit``, paper constraint levels;
    epsilon: the output constraint at the lowest bit at each ``epsilon`` (and the paper's level);
    fig1:    at the lowest bit, output only (paper level) and layer-wise at ``epsilon_layer`` (its duals rank layers);
    manual:  the baseline at the lowest bit with ``high_precision_layers`` kept in high precision, if any.
    """
    p = params
    bits = p.bits
    constraints = parse_list(p.constraint, str, "constraint", choices=CONSTRAINTS)
    keep = p.high_precision(arch_layers(p.arch, {}))
    data = resolve_data(p.profile, p.data)
    low = min(bits)

    def run(method: str, b: int, options: dict[str, Any], seed: int) -> TrainConfig:
        return run_config(method, b, options, arch=p.arch, profile=p.profile, data=data, epochs=p.epochs, seed=seed)

    def pd(constraint: str, b: int, seed: int, **levels: float) -> TrainConfig:
        return run("pdqat", b, pdqat_options(constraint, b, p.dual_lr, p.objective, **levels), seed)

    planned = []
    for seed in range(p.seeds):
        planned.append(Run(run("dorefa", FULL, {}, seed), "table", "full precision"))
        for b in sorted(bits, reverse=True):
            planned.append(Run(run("dorefa", b, {}, seed), "table", "baseline"))
            planned += [Run(pd(c, b, seed), "table", c) for c in constraints]
        study_seeds = SETTINGS[p.profile].epsilon_seeds
        extra = p.epsilons if not study_seeds or seed < study_seeds else []  # a CPU profile: at fewer seeds
        planned += [Run(pd("output", low, seed, epsilon=e), "epsilon", "output")
                    for e in sorted({*extra, EPSILON_OUT[low]})]
        planned.append(Run(pd("output", low, seed), "fig1", "output"))
        planned.append(Run(pd("layerwise", low, seed, epsilon_layer=p.epsilon_layer), "fig1", "layerwise"))
        if keep:
            planned.append(Run(run("dorefa", low, {"high_precision_layers": keep}, seed), "manual", "mixed",
                               {"rule": "by hand", "count": len(keep)}))
    return planned


def mixed_plan(selection: list[dict[str, Any]], counts: Any = Params.counts, rules: Any = Params.rules) -> list[Run]:
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
    numbers, chosen_rules = mixed_choices(counts, rules, len(body_layer_names(selection[0])))
    duals = mean_layer_duals(selection)
    planned = []
    for parent in configs:
        for rule in chosen_rules:
            for count in numbers:
                keep = sorted(select_layers(duals, count, rule, seed=count))
                config = run_config("dorefa", parent.bits, {"high_precision_layers": keep}, arch=parent.arch,
                                    profile=parent.profile, data=parent.data, epochs=parent.schedule.epochs,
                                    seed=parent.seed)
                planned.append(Run(config, "mixed", "mixed", {"rule": rule, "count": count}))
    return planned


def mixed_choices(counts: Any, rules: Any, layers: int) -> tuple[list[int], list[str]]:
    """``counts`` and ``rules`` as lists, checked for a model with ``layers`` quantizable body layers."""
    return (parse_list(counts, int, "counts", choices=range(1, layers + 1)),
            parse_list(rules, str, "rules", choices=SELECTION_RULES))


def mean_layer_duals(records: list[dict[str, Any]]) -> list[float]:
    """Final dual of every layer constraint, averaged over the records (runs that differ only in seed)."""
    return [sum(values) / len(values) for values in zip(*map(layer_duals, records))]


def fig1_selection(planned: Sequence[Planned], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the fig1 layer-wise runs of ``planned`` (one per seed): the runs whose duals rank the layers."""
    wanted = [p.config.run_id for p in planned if isinstance(p, Run) and (p.part, p.row) == ("fig1", "layerwise")]
    found = {record["run_id"]: record for record in records}
    missing = [run_id for run_id in wanted if run_id not in found]
    if missing:
        raise ValueError(f"mixed precision ranks the layers by the duals of the layer-wise runs {missing}, which "
                         f"have no record among those given: run the chapter's first phase (sweep) first")
    return [found[run_id] for run_id in wanted]


def followup(params: Params, planned: Sequence[Planned], records: list[dict[str, Any]]) -> list[Run]:
    """The chapter's second phase: ``mixed_plan`` ranked by the fig1 layer-wise records of the first phase
    (``planned``, from ``plan``); ``records`` are its runs' records (any order, others allowed)."""
    return mixed_plan(fig1_selection(planned, records), counts=params.counts, rules=params.rules)


SCOREBOARD = (
    Entry("DoReFa", "dorefa", "resnet20", (2, 3, 4), WEIGHTS_AND_ACTIVATIONS),
    Entry("PD-QAT (output constraint)", "pdqat", "preact_resnet20", (2, 3, 4), WEIGHTS_AND_ACTIVATIONS,
          options={"constraint": "output"}, arch_options={"width": 1}),
)
CHAPTER = Chapter(CHAPTER_NAME, Params, plan, followup, Reference(reference.ROWS, reference.SOURCES), SCOREBOARD,
                  gpu_plan=((0, {"bit": "4,2,1"}), (1, {"bit": "4,2,1", "seeds": 3})), rank=2)
