"""A fifth paper is a quantizer, a method, a chapter module and a notebook: this test walks a toy one through the
package as those files would (each class below is what its file would hold), registered the way discovery
registers a new module's ``METHODS`` and ``CHAPTER``, and checks that the CLI, the runner, the records and the
reference table take it with no other change."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from qrepro import chapters, methods
from qrepro.chapters import Chapter, ChapterParams, Run
from qrepro.chapters.base import Reference
from qrepro.cli import main
from qrepro.config import Schedule, TrainConfig
from qrepro.methods import Method
from qrepro.nn import LayerQuant, quantize_
from qrepro.params import expect
from qrepro.profiles import resolve_data
from qrepro.quantizers.ste import straight_through
from qrepro.report import paper_table
from qrepro.runs import run_chapter, run_dir


# qrepro/quantizers/halves.py --------------------------------------------------------------------------------
class Halves(nn.Module):
    """Weights rounded to the nearest multiple of 1/2^(bits-1), clipped to [-1, 1]; straight-through backward."""

    def __init__(self, bits: int):
        super().__init__()
        self.step = 2.0 ** (1 - bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return straight_through(w, (w.clamp(-1, 1) / self.step).round() * self.step)


# qrepro/methods/halves.py ----------------------------------------------------------------------------------
class HalvesMethod(Method):
    name = "halves"
    supported_bits = (2, 3)

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        quantize_(model, LayerQuant(weight=lambda layer: Halves(config.bits)))


METHODS = (HalvesMethod(),)


# qrepro/chapters/halves.py ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params(ChapterParams):
    bit: int = 2  # 2 or 3

    def check(self) -> None:
        expect("bit", self.bit, int, choices=HalvesMethod.supported_bits)


def plan(params: Params) -> list[Run]:
    data = resolve_data(params.profile, params.data)
    runs = []
    for seed in range(params.seeds):
        schedule = Schedule(epochs=params.epochs or 2, batch_size=64, lr=0.05)
        fp = TrainConfig(chapter="halves", data=data, arch="lenet5", schedule=schedule, seed=seed,
                         profile=params.profile)
        runs += [Run(fp, row="full precision"),
                 Run(TrainConfig(chapter="halves", data=data, arch="lenet5", schedule=schedule, method="halves",
                                 bits=params.bit, init=fp, seed=seed, profile=params.profile), row="halves")]
    return runs


CHAPTER = Chapter("halves", Params, plan, reference=Reference(
    [{"source": "paper", "arch": "lenet5", "data": "digits", "method": "halves", "bits": 2, "top1": 90.0}],
    {"paper": "a toy paper, Table 1"}))


# book/halves.py calls, after its parameters cell:
#     params, runtime = notebook_parameters("halves", globals()); shown = run_chapter(params, **runtime)
# ------------------------------------------------------------------------------------------------------------

@pytest.fixture
def fifth_paper(monkeypatch):
    for method in METHODS:
        monkeypatch.setitem(methods.METHODS, method.name, method)
    monkeypatch.setitem(chapters.CHAPTERS, CHAPTER.name, CHAPTER)


def test_a_fifth_paper_runs_through_the_notebook_contract_and_the_cli(runs_root, one_thread, fifth_paper, capsys):
    namespace: dict[str, Any] = {"bit": 3, "profile": "smoke", "data": "", "data_root": "", "epochs": 1, "seeds": 1,
                                 "device": "cpu"}
    params, runtime = chapters.notebook_parameters("halves", namespace)
    shown = run_chapter(params, **runtime)
    assert [r["config"]["method"] for r in shown.records] == ["fp", "halves"]
    fp, quantized = shown.records
    assert quantized["config"]["init"] == fp["config"] and quantized["epochs"][-1]["train_loss"] > 0
    assert paper_table("halves").citation.tolist() == ["a toy paper, Table 1"]

    assert main(["run", "halves", "-p", "bit", "3", "-p", "epochs", "1", "--no-progress"]) == 0  # found, not rerun
    assert main(["run", "halves", "-p", "bit", "5"]) == 2
    assert "bit=5 is not supported; valid: 2, 3" in capsys.readouterr().err
    assert run_dir(shown.planned[-1].config).is_dir()
