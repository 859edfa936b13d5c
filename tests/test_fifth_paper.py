"""A fifth paper is a quantizer, a method, a chapter module and a notebook. This test writes a toy one as the files a
contributor would add (``qrepro/methods/halves.py``, ``qrepro/chapters/halves.py``) into a copy of the package, and
checks in a fresh process, with no registry patched, that discovery finds them and that the CLI, the GPU plan, the
scoreboard, the runner, the records and the reference table take them with no other change."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

METHOD_FILE = '''
"""Halves: weights rounded to the nearest multiple of 1/2^(bits-1), clipped to [-1, 1]; straight-through backward."""
import torch
from torch import nn

from ..config import TrainConfig
from ..nn import LayerQuant, quantize_
from ..quantizers.ste import straight_through
from .base import Method


class Halves(nn.Module):
    def __init__(self, bits: int):
        super().__init__()
        self.step = 2.0 ** (1 - bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return straight_through(w, (w.clamp(-1, 1) / self.step).round() * self.step)


class HalvesMethod(Method):
    name = "halves"
    supported_bits = (2, 3)

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        quantize_(model, LayerQuant(weight=lambda layer: Halves(config.bits)))


METHODS = (HalvesMethod(),)
'''

CHAPTER_FILE = '''
"""The toy paper's chapter: a full-precision LeNet-5, then its halves run."""
from dataclasses import dataclass

from ..config import Schedule, TrainConfig
from ..params import expect
from ..profiles import resolve_data
from .base import WEIGHTS, Chapter, ChapterParams, Entry, Reference, Run


@dataclass(frozen=True)
class Params(ChapterParams):
    bit: int = 2  # 2 or 3

    def check(self) -> None:
        expect("bit", self.bit, int, choices=(2, 3))


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
    {"paper": "a toy paper, Table 1"}),
    scoreboard=(Entry("Halves", "halves", "resnet20", (2,), WEIGHTS),),
    gpu_plan=((0, {"bit": 2}),), rank=9)
'''

CHECKS = '''
import sys

from qrepro.chapters import CHAPTERS, notebook_parameters
from qrepro.chapters.scoreboard import entries
from qrepro.cli import main
from qrepro.methods import METHODS
from qrepro.plan import PRIORITY
from qrepro.report import paper_table
from qrepro.runs import run_chapter, run_dir

assert "halves" in CHAPTERS and "halves" in METHODS  # discovered, nothing registered by hand
assert ("halves", {"bit": 2}) in PRIORITY  # the GPU plan takes its headline runs
assert [e.chapter for e in entries() if e.label == "Halves"] == ["halves"]  # the scoreboard its row
namespace = {"bit": 3, "profile": "smoke", "data": "", "data_root": "", "epochs": 1, "seeds": 1, "device": "cpu"}
params, runtime = notebook_parameters("halves", namespace)  # what book/halves.py does after its parameters cell
shown = run_chapter(params, **runtime)
assert [r["config"]["method"] for r in shown.records] == ["fp", "halves"]
fp, quantized = shown.records
assert quantized["config"]["init"] == fp["config"] and quantized["epochs"][-1]["train_loss"] > 0
assert paper_table("halves").citation.tolist() == ["a toy paper, Table 1"]
assert main(["run", "halves", "-p", "bit", "3", "-p", "epochs", "1", "--no-progress"]) == 0  # found, not rerun
assert main(["run", "halves", "-p", "bit", "5"]) == 2  # checked: "bit=5 is not supported"
assert run_dir(shown.planned[-1].config).is_dir()
try:
    main(["run", "--help"])  # "all" is every discovered chapter: the help lists the choices
except SystemExit:
    pass
'''


def test_a_fifth_paper_added_as_files_is_found_planned_scored_and_run(tmp_path):
    package = tmp_path / "src" / "qrepro"
    shutil.copytree(REPO / "qrepro", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "methods" / "halves.py").write_text(textwrap.dedent(METHOD_FILE).lstrip())
    (package / "chapters" / "halves.py").write_text(textwrap.dedent(CHAPTER_FILE).lstrip())
    env = {"PYTHONPATH": str(package.parent), "QREPRO_RUNS": str(tmp_path / "runs"), "QREPRO_THREADS": "1",
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "QREPRO_KERNELS": "eager", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CHECKS], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bit=5 is not supported; valid: 2, 3" in done.stderr
    assert "halves" in done.stdout.split("positional arguments", 1)[0]  # `run` takes it, and `run all` runs it
    assert Path(tmp_path / "runs" / "halves").is_dir()


SHARED = ["qrepro/plan.py", "qrepro/cli.py", "qrepro/chapters/scoreboard.py", "qrepro/chapters/base.py", "qrepro/runs",
          *[f"qrepro/report/{name}.py" for name in ("__init__", "compare", "cost", "display", "lite", "plots",
                                                     "protocol", "stats", "tables", "verdicts", "parents")]]


def test_no_shared_module_names_a_chapter_or_a_method():
    """The shared code finds chapters and methods by discovery: none of its files (code, comments or docstrings)
    spells a chapter's or a method's name, so a fifth paper needs no edit there."""
    import re

    from qrepro.chapters import CHAPTERS
    from qrepro.methods import METHODS, PTQ_METHODS

    names = {*CHAPTERS, *METHODS, *PTQ_METHODS, "pd-qat"} - {"fp", "scoreboard"}  # "fp": full precision, no paper
    pattern = re.compile(rf"\b({'|'.join(sorted(names))})\b", re.IGNORECASE)
    files = [p for entry in SHARED for p in ([REPO / entry] if entry.endswith(".py") else
                                             sorted((REPO / entry).rglob("*.py")))]
    found = {f"{p.relative_to(REPO)}:{n}": m.group(0) for p in files
             for n, line in enumerate(p.read_text().splitlines(), 1) for m in [pattern.search(line)] if m}
    assert not found, f"shared modules name chapters or methods: {found}"
