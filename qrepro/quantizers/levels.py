"""Projection onto a finite level set: the nearest level of every element.

``nearest_level`` works for any sorted levels (binary search with ``torch.bucketize`` on the midpoints).
``LevelGrid`` is the fast path for level sets whose midpoints lie on a uniform grid (every APoT, uniform and
power-of-two set does): a table lookup with no search. Neither builds a (levels x tensor) distance tensor.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import lcm

import torch
from torch import nn

NOT_FINITE = "a quantizer's input or its learned scale is not finite (NaN): the run diverged; lower the learning rate"


def nearest_level(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Project every element of ``x`` to the nearest value of the sorted 1-D tensor ``levels``.

    Binary search over the midpoints between neighbouring levels (``torch.bucketize``): O(numel(x)) memory.
    A value exactly on a midpoint goes to the lower level. Channels-last 4-D tensors are searched in their
    own memory order (bucketize wants contiguous input).
    """
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return nearest_level(x.permute(0, 2, 3, 1), levels).permute(0, 3, 1, 2)
    levels = levels.to(device=x.device, dtype=x.dtype)
    thresholds = (levels[1:] + levels[:-1]) / 2
    return levels[torch.bucketize(x, thresholds)]


class LevelGrid(nn.Module):
    """Nearest-level lookup table for a sorted level set whose midpoints lie on a uniform grid.

    If every midpoint of l_0 < ... < l_{n-1} is l_0 plus a multiple of 1/M, the nearest level is constant on
    each cell [l_0 + j/M, l_0 + (j+1)/M), so with a scale alpha

        alpha * Pi(x / alpha) = (alpha * table)[clamp(floor((x / alpha - l_0) M), 0, cells - 1)],

    cells = (l_{n-1} - l_0) M, which also clips x / alpha to [l_0, l_{n-1}]. A value exactly on a midpoint
    goes to the upper level.
    """

    def __init__(self, levels: Sequence[Fraction]):
        super().__init__()
        levels = sorted(Fraction(v) for v in levels)
        low, high = levels[0], levels[-1]
        midpoints = [(a + b) / 2 - low for a, b in zip(levels, levels[1:])]
        self.resolution = lcm(*(m.denominator for m in midpoints), 1)
        self.cells = max(int((high - low) * self.resolution), 1)
        self.offset = float(-low * self.resolution)
        centres = (low + Fraction(2 * j + 1, 2 * self.resolution) for j in range(self.cells))
        table = [min(levels, key=lambda level: abs(level - c)) for c in centres]
        self.register_buffer("table", torch.tensor([float(v) for v in table]), persistent=False)
        self.register_buffer("levels", torch.tensor([float(v) for v in levels]), persistent=False)

    def cell(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """int32 cell index of every element of x / alpha (clipped to the level range), computed in at least
        float32: under bf16 autocast an activation's 8 significant bits would put some on a neighbouring cell."""
        scaled = x.to(torch.promote_types(x.dtype, torch.float32)) * (self.resolution / alpha)
        if self.offset:  # signed level sets; unsigned ones (activations) start at 0 and save a pass
            scaled += self.offset
        return scaled.clamp_(0, self.cells - 1).to(torch.int32)

    def lookup(self, cells: torch.Tensor, alpha: torch.Tensor | float = 1.0) -> torch.Tensor:
        """alpha times the nearest level of each cell index (same shape and memory format as ``cells``)."""
        if cells.dim() == 4 and not cells.is_contiguous() and cells.is_contiguous(memory_format=torch.channels_last):
            return self.lookup(cells.permute(0, 2, 3, 1), alpha).permute(0, 3, 1, 2)  # a contiguous view
        values = (self.table * alpha).to(cells.device)
        try:
            if cells.is_contiguous():
                return values.index_select(0, cells.view(-1)).view(cells.shape)
            return values[cells]
        except IndexError as err:  # a NaN (input or scale) has no cell: the integer cast gives an arbitrary index
            raise FloatingPointError(NOT_FINITE) from err

    def extra_repr(self) -> str:
        return f"levels={self.levels.numel()}, cells={self.cells}"
