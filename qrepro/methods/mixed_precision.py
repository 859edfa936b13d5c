"""Mixed precision: which layers stay in high precision, named by hand or chosen from PD-QAT's dual variables.

Hounie, Elenter, Ribeiro (ICASSP 2023, arXiv 2210.15623) read the optimal dual variable of a layer's constraint
as its sensitivity, lambda*_l = -dP*/d(epsilon_l): relaxing a constraint with a large dual lowers the optimal
objective most. Their Fig. 1b/c keeps the layers with the LARGEST final duals in high precision and retrains
the mixed model from scratch with plain QAT (official train_selec.py --no_quant_layers "i,j,k"), against the
layers with the smallest duals (official scripts/layer_selection/, notebooks/per_layer_l2.ipynb and
layer_select_results.ipynb); we add a random choice as a third baseline.

Layers are indexed in the official order: the quantizable layers of any registered model without its stem and
its classifier, in ``model.modules()`` order (for the pre-activation ResNet-20: block 0 conv0, conv1, block 1 ...,
the two 1x1 shortcuts after conv1 of blocks 3 and 6; 20 layers).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .. import models
from ..nn import first_and_last, quantizable_layers

SELECTION_RULES = ("largest", "smallest", "random")


def body_layers(model: nn.Module) -> list[str]:
    """Qualified names of the quantizable layers other than the stem and the classifier, in network order."""
    stem, classifier = first_and_last(model)
    return [name for name in quantizable_layers(model) if name not in (stem, classifier)]


def arch_layers(arch: str, arch_options: dict[str, Any]) -> list[str]:
    """``body_layers`` of an architecture, built on the meta device (the names depend on no weight or width)."""
    with torch.device("meta"):
        return body_layers(models.create(arch, **arch_options))


def layer_choices(names: Sequence[str]) -> str:
    """"0: blocks.0.conv0, 1: ..." for error messages."""
    return ", ".join(f"{i}: {name}" for i, name in enumerate(names))


def check_high_precision(indices: Sequence[Any], names: Sequence[str]) -> list[int]:
    """``indices`` as sorted distinct ints into ``names``; a ValueError listing the quantizable layers otherwise."""
    result = set()
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(names):
            raise ValueError(f"high-precision layer {index!r} does not exist; the model's quantizable layers are "
                             f"{layer_choices(names)}")
        result.add(index)
    return sorted(result)


def select_layers(duals: Sequence[float], count: int, rule: str, seed: int = 0) -> list[int]:
    """Indices of ``count`` layers to keep in high precision, in the order chosen.

    largest: by decreasing dual (the paper's rule); smallest: by increasing dual (the paper's control);
    random: a uniform draw of ``count`` layers (torch generator seeded with ``seed``). Ties keep the lower index
    first, so a fixed vector always gives the same choice.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; valid: {', '.join(SELECTION_RULES)}")
    if not 0 <= count <= len(duals):
        raise ValueError(f"cannot keep {count} of {len(duals)} layers in high precision; valid: 0..{len(duals)}")
    values = torch.tensor(list(duals), dtype=torch.float64)
    if rule == "random":
        order = torch.randperm(len(values), generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.argsort(-values if rule == "largest" else values, stable=True)
    return order[:count].tolist()
