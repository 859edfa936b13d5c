"""The SQ chapter's runs, as chains: every number the chapter shows is the last run of a chain.

Rows of the paper-vs-ours table, per architecture in ``arch``: FWN, BWN, SQ-BWN, TWN, SQ-TWN, TTQ, SQ-TTQ (a
baseline is one run of the stage schedule, an SQ row the stage chain over ``ratios``). The seed project's
studies run on one architecture, ``study_arch``: the INQ, SQ-INQ, ELQ and SQ-ELQ rows (steps after the FWN
model), and the SQ chain of the first of BWN/TWN/TTQ asked for with each probability function and with
each granularity, the other settings as in the table. Every run trains on the data set without random-crop
augmentation (``<data>-nocrop``): the official SQ code only mirrors, and the seed does not augment at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import TrainConfig
from ..data import NO_CROP
from ..params import expect, parse_list
from ..profiles import resolve_data
from ..quantizers.pow2 import INQ_BITS
from .inq import step_chain
from .sq import ARCHS, EPOCHS, GRANULARITIES, PROBS, SELECTS, check_base_options, parse_ratios, run_config, stage_chain

METHODS = ("bwn", "twn", "ttq", "inq", "elq")
SQ_BASES = ("bwn", "twn", "ttq")
ROWS = ("FWN", "BWN", "SQ-BWN", "TWN", "SQ-TWN", "TTQ", "SQ-TTQ", "INQ", "SQ-INQ", "ELQ", "SQ-ELQ")


@dataclass(frozen=True)
class Chain:
    """One shown number: its runs in order, each initialized from the one before (the first from ``init``)."""

    group: str  # "table", "prob" or "granularity"
    arch: str
    row: str  # one of ROWS
    variant: str  # the compared setting ("softmax", "element", ...); "" in the table
    seed: int
    runs: tuple[TrainConfig, ...]

    @property
    def final(self) -> TrainConfig:
        return self.runs[-1]


def plan(method: Any = "bwn,twn,ttq,inq,elq", sq: bool = True, prob: str = "linear", granularity: str = "filter",
         select: str = "quantized", ratios: Any = "0.5,0.75,0.875,1", arch: Any = "vgg9,resnet20",
         study_arch: str = "resnet20", twn: str = "official", threshold: float = 0.05, wn_grad: str = "paper",
         inq_bits: int = 3, profile: str = "smoke", data: str = "", epochs: int = 0, seeds: int = 1) -> list[Chain]:
    """Every chain the chapter shows for these parameters (see the module docstring)."""
    methods = parse_list(method, str, "method", choices=METHODS)
    archs = parse_list(arch, str, "arch", choices=ARCHS)
    expect("sq", sq, bool)
    expect("prob", prob, str, choices=PROBS)
    expect("granularity", granularity, str, choices=GRANULARITIES)
    expect("select", select, str, choices=SELECTS)
    stages = parse_ratios(ratios)
    expect("study_arch", study_arch, str, choices=("", *ARCHS))
    check_base_options(twn, threshold, wn_grad)
    expect("inq_bits", inq_bits, int, choices=INQ_BITS)
    expect("profile", profile, str, choices=tuple(EPOCHS))
    expect("data", data, str)
    expect("epochs", epochs, int, minimum=0)
    expect("seeds", seeds, int, minimum=1)
    data = resolve_data(profile, data).removesuffix(NO_CROP) + NO_CROP
    base_options = {"bwn": {}, "twn": {"variant": twn}, "ttq": {"threshold": float(threshold), "wn_grad": wn_grad}}
    settings = {"granularity": granularity, "prob": prob, "select": select}

    def sq_chain(group: str, variant: str, a: str, m: str, seed: int, **changed: str) -> Chain:
        runs = stage_chain(m, base_options[m], {**settings, **changed}, stages, a, profile, data, epochs, seed)
        return Chain(group, a, f"SQ-{m.upper()}", variant, seed, runs)

    chains: list[Chain] = []
    for seed in range(seeds):
        for a in archs:
            chains.append(Chain("table", a, "FWN", "", seed, (run_config("fp", {}, a, profile, data, epochs, seed),)))
            for m in (m for m in methods if m in SQ_BASES):
                chains.append(Chain("table", a, m.upper(), "", seed,
                                    (run_config(m, base_options[m], a, profile, data, epochs, seed),)))
                if sq:
                    chains.append(sq_chain("table", "", a, m, seed))
        if not study_arch:
            continue
        fwn = run_config("fp", {}, study_arch, profile, data, epochs, seed)
        if study_arch not in archs and any(m not in SQ_BASES for m in methods):
            chains.append(Chain("table", study_arch, "FWN", "", seed, (fwn,)))
        for m in (m for m in methods if m not in SQ_BASES):
            steps = step_chain(m, None, fwn, inq_bits, profile, epochs)
            chains.append(Chain("table", study_arch, m.upper(), "", seed, steps))
            if sq:
                steps = step_chain(m, settings, fwn, inq_bits, profile, epochs)
                chains.append(Chain("table", study_arch, f"SQ-{m.upper()}", "", seed, steps))
        base = next((m for m in methods if m in SQ_BASES), None)
        if sq and base:
            chains += [sq_chain("prob", p, study_arch, base, seed, prob=p) for p in PROBS]
            chains += [sq_chain("granularity", g, study_arch, base, seed, granularity=g) for g in GRANULARITIES]
    return chains


def configs(chains: list[Chain]) -> list[TrainConfig]:
    """The distinct runs of ``chains``, each after the run it is initialized from."""
    seen: dict[str, TrainConfig] = {}
    for chain in chains:
        for run in chain.runs:
            seen.setdefault(run.run_id, run)
    return list(seen.values())


def sweep(method: Any = "bwn,twn,ttq,inq,elq", sq: bool = True, prob: str = "linear", granularity: str = "filter",
          select: str = "quantized", ratios: Any = "0.5,0.75,0.875,1", arch: Any = "vgg9,resnet20",
          study_arch: str = "resnet20", twn: str = "official", threshold: float = 0.05, wn_grad: str = "paper",
          inq_bits: int = 3, profile: str = "smoke", data: str = "", epochs: int = 0,
          seeds: int = 1) -> list[TrainConfig]:
    """Every run the chapter needs for these parameters, parents first (``python -m qrepro run sq``)."""
    return configs(plan(method, sq, prob, granularity, select, ratios, arch, study_arch, twn, threshold, wn_grad,
                        inq_bits, profile, data, epochs, seeds))
