"""The Reproduce page's sentences about speed and training precision, written from the recorded benchmarks
(``qrepro.bench.recorded``) so that no number on the page is typed by hand: each function takes the records and
returns Markdown, or says which record is missing."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..bench.targets import TARGETS
from ..methods import get_method


def latest(results: list[dict[str, Any]], benchmark: str) -> dict[str, Any] | None:
    """The recorded CPU result of ``benchmark`` (``bench.recorded()`` lists one per benchmark and device; the page's
    sentences are about training on a CPU), or None."""
    found = [result for result in results if result["benchmark"] == benchmark and result["device"].startswith("CPU")]
    return found[-1] if found else None


def _missing(benchmark: str) -> str:
    return f"No `{benchmark}` record here yet (`python -m qrepro bench --only {benchmark}` makes one)."


def _range(values: pd.Series) -> str:
    low, high = values.min(), values.max()
    return f"{low:.2f}×" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}× to {high:.2f}×"


def bf16_speed(qat_step: dict[str, Any] | None, epoch_cost: dict[str, Any] | None) -> str:
    """What bf16 autocast buys a training step (``qat_step``) and what an epoch spends outside its steps
    (``epoch_cost``, full precision, channels_last, bf16)."""
    if qat_step is None:
        return _missing("qat_step")
    rows = pd.DataFrame(qat_step["rows"])
    if "precision" not in rows or not {"bf16", "fp32"} <= set(rows["precision"]):
        return "The last `qat_step` record measured one precision only (its machine has no native bf16)."
    fp = rows[(rows["case"] == "fp")].set_index("precision")["ms_per_step"]
    quantized = rows[(rows["precision"] == "bf16") & (rows["method"] != "fp")]["bf16_speedup"]
    text = (f"In the last `qat_step` record ({qat_step['device']}, {qat_step['date'][:10]}) a full-precision "
            f"ResNet-20 step at batch 128 took {fp['bf16']:.0f} ms under bf16 against {fp['fp32']:.0f} ms in fp32, "
            f"{fp['fp32'] / fp['bf16']:.2f}× faster, and a quantized step {_range(quantized)} faster (table below).")
    if epoch_cost is not None:
        epoch = [row for row in epoch_cost["rows"] if row["case"] == "fp" and row["variant"] == "channels_last"
                 and row.get("precision") == "bf16"]
        if epoch:
            text += (f" In an epoch the loader and the evaluation, which bf16 does not speed up, weigh more: "
                     f"{epoch[0]['outside_steps']} of a channels-last bf16 epoch (`epoch_cost`).")
    return text


def precision_agreement(curves: dict[str, Any] | None) -> str:
    """The ``precision_curves`` benchmark in words: per case, the last epoch's test top-1 under fp32 and bf16 from
    seed 0, and fp32 from seed 1 (the seed noise the precision gap is read against); the training losses; and the
    epoch times of the two precisions."""
    if curves is None:
        return _missing("precision_curves")
    rows = pd.DataFrame(curves["rows"])
    last = rows[rows["epoch"] == rows.groupby("case")["epoch"].transform("max")]
    sentences, losses, beyond_noise = [], [], []
    for case, runs in last.groupby("case", sort=False):
        top1 = {(r.precision, r.seed): r.test_top1 for r in runs.itertuples()}
        loss = {(r.precision, r.seed): r.train_loss for r in runs.itertuples()}
        gap = abs(top1["fp32", 0] - top1["bf16", 0])
        text = (f"{case} reached {top1['fp32', 0]:.2f} % in fp32 and {top1['bf16', 0]:.2f} % in bf16 from seed 0 "
                f"(a gap of {gap:.2f} points)")
        if ("fp32", 1) in top1:
            noise = abs(top1["fp32", 1] - top1["fp32", 0])
            if gap > noise:
                beyond_noise.append(f"{case} ({gap:.2f} against {noise:.2f} points)")
            text += f" and {top1['fp32', 1]:.2f} % in fp32 from seed 1 ({noise:.2f} points from seed 0)"
        sentences.append(text)
        losses.append(f"{abs(loss['fp32', 0] - loss['bf16', 0]):.3f} ({case}: {loss['fp32', 0]:.3f} against "
                      f"{loss['bf16', 0]:.3f})")
    epochs = int(last["epoch"].max())
    verdict = ("So the precision's effect is no larger than a change of seed on these short runs; "
               f"{epochs} epochs cannot rule out a smaller, systematic one." if not beyond_noise else
               "The precision's gap is larger than the change of seed's for " + " and ".join(beyond_noise)
               + "; one second seed is a rough measure of the noise, so this neither shows nor rules out a "
               "systematic effect of bf16.")
    seconds = rows.groupby("precision")["seconds"].median()
    return (f"In the last `precision_curves` record ({curves['device']}, {curves['date'][:10]}), after {epochs} "
            f"epochs: " + "; ".join(sentences) + ". The training losses of the two precisions agree to "
            + " and ".join(losses) + f". {verdict} A bf16 epoch took {seconds['bf16']:.0f} s against "
            f"{seconds['fp32']:.0f} s in fp32 (medians of the record's epochs).")


def _weight_only(row: dict[str, Any]) -> bool:
    """Whether a ``qat_step`` case quantizes weights only (its method's activations stay full precision)."""
    weights, activations = get_method(row["method"]).levels(row["bits"])
    return weights is not None and activations is None


def step_ratios(qat_step: dict[str, Any] | None) -> str:
    """``qat_step`` against its targets (``bench.targets``): the weight-only methods' steps per precision, and every
    case over its target."""
    if qat_step is None:
        return _missing("qat_step")
    rows = qat_step["rows"]
    weight_only = pd.DataFrame([row for row in rows if _weight_only(row)])
    if "precision" not in weight_only:
        weight_only["precision"] = "fp32"
    ranges = [f"{_range(group['ratio_to_fp'])} in {precision}"
              for precision, group in weight_only.groupby("precision", sort=False)]
    text = (f"In the last `qat_step` record ({qat_step['device']}) the weight-only methods' steps measure "
            f"{' and '.join(ranges)} of the full-precision step.")
    for target in (t for t in TARGETS if t.benchmark == "qat_step"):
        limit = target.limit_on("cpu")
        over = [f"{case} at {ratio:.2f}×" for case, ratio in target.ratios(rows) if ratio > limit]
        text += (f" Over the {limit}× target ({target.description}): {', '.join(over)}." if over else
                 f" Every case is within the {limit}× target ({target.description}).")
    return text
