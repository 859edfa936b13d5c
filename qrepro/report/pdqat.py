"""PD-QAT views of run records: Table 1 paper vs ours, per-layer MSE and duals, accuracy vs epsilon, mixed precision.

Every function takes the chapter's planned runs (qrepro.chapters.base.Run: a config with its role) and the
records they produced, matched by run id; numbers come from the records only, paper numbers from
qrepro.chapters.reference.pdqat. Table 1 is report.compare's, with this chapter's columns. Our std over seeds is the
book's sample std (``report.stats``); the paper's is the population std. Tables of run numbers carry the runs behind
each row (``run_ids``), which report.show_table links to the page's provenance table.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..chapters.reference import pdqat as reference
from ..methods import pdqat
from ..methods.dorefa import body_layer_names
from ..runs import Shown, complete
from .compare import cells, compare, drop_cells, headline_rows, provenance_cells, published_drops, versus_cells
from .stats import mean_std, series_mean_std
from .tables import option, runs_frame

ROW_LABELS = {
    "full precision": "full precision (32-bit path)",
    "baseline": "baseline: DoReFa STE-QAT",
    "none": "PD-QAT, no constraint",
    "output": "PD-QAT (i): output constraint",
    "layerwise": "PD-QAT (ii): layer-wise + output",
}
ROW_ORDER = list(ROW_LABELS)
FIG1_COLUMNS = {"output": "ours: output only", "layerwise": "ours: layer-wise"}  # Fig. 1 run row -> its column


def planned_frame(planned: Iterable[Any], records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per planned run: its part, row, selection rule and count, its record's row of tables.runs_frame and
    its constraint options (epsilon, epsilon_layer, objective; missing for the baseline)."""
    plan = pd.DataFrame([{"part": p.part, "row": p.row, "rule": p.details.get("rule", ""),
                          "count": p.details.get("count", 0), "run_id": p.config.run_id} for p in planned])
    frame = plan.merge(runs_frame(records).drop_duplicates("run_id"), on="run_id", how="left", validate="many_to_one")
    return frame.assign(**{name: option(frame, name) for name in ("epsilon", "epsilon_layer", "objective")})


def _paper() -> pd.DataFrame:
    """The paper's Table 1 per (row, bits): mean, population std and seeds, and the drop against its own full
    precision number (report.compare.published_drops)."""
    rows = pd.DataFrame(reference.ROWS)
    rows = published_drops(rows, ["source"], (rows["method"] == "full precision") & (rows["bits"] == 32))
    rows = rows.rename(columns={"method": "row", "std": "paper_std", "seeds": "paper_seeds"})
    return rows[["row", "bits", "paper_top1", "paper_std", "paper_seeds", "paper_drop"]]


def compared(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 1's rows through report.compare: per (data set, profile, row, bits) our top-1 over seeds, the drop
    against our full-precision model, the paper's drop against its own (its Table 1 means over 6 seeds) and the
    verdict; full precision first, then by bits, high to low."""
    runs = frame[frame["part"] == "table"]
    table = compare(runs, ["data_set", "profile", "row", "bits"], runs[runs["row"] == "full precision"],
                    by=["data_set", "profile"], metrics=("top1", "val_selected_top1"), reference=_paper())
    table = table.assign(data_order=table.groupby(["data_set", "profile"], sort=False).ngroup(),
                         quantized=table["bits"] != 32, minus_bits=-table["bits"],
                         row_order=table["row"].map(ROW_ORDER.index))
    return table.sort_values(["data_order", "quantized", "minus_bits", "row_order"]).reset_index(drop=True)


def headline(shown: Shown) -> pd.DataFrame:
    """The chapter's headline rows (report.compare.headline_rows): the DoReFa baseline and PD-QAT at each bit-width
    against the paper's Table 1 drops; the paper's claim is PD-QAT's row against the baseline's."""
    done = [p for p in complete(shown.planned, shown.records) if p.part == "table"]
    if not done:
        return headline_rows(pd.DataFrame(), [])
    table = compared(planned_frame(done, shown.records))
    table = table[table["bits"] != 32]
    by_id = {r["run_id"]: r for r in shown.records}
    return headline_rows(table, [row_label(row, bits, [by_id[i] for i in ids if i in by_id])
                                 for row, bits, ids in zip(table["row"], table["bits"], table["run_ids"])])


def row_label(row: str, bits: int, records: Sequence[dict[str, Any]]) -> str:
    """A headline row's label from its row and bits. A layer-wise row none of whose ``records`` had a layer dual
    above zero after any epoch says so: its layer constraints never bound, so it trained exactly as the output-only
    row (the same gradients), and its number is no evidence about the layer-wise constraints."""
    label = f"{ROW_LABELS[row]}, {bits}-bit"
    if row == "layerwise" and not any(value > 0 for record in records
                                      for _, name, value in pdqat.dual_history(record) if name != pdqat.OUTPUT):
        return f"{label} (no layer constraint bound, so it trained as (i))"
    return label


def paper_vs_ours(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 1, paper vs ours (``compared``): top-1 of the last epoch (mean ± std over seeds), the drop against our
    full-precision model, the paper's drop against its own and a verdict on it; the paper's selection
    (best-validation epoch) as a second column, and each row's runs (``run_ids``)."""
    table = compared(frame)
    return pd.DataFrame({
        "data set": table["data_set"], "profile": table["profile"], "bits": table["bits"],
        "method": table["row"].map(ROW_LABELS), "top-1 (%), last epoch": cells(table, "top1"), "seeds": table["seeds"],
        "drop vs our FP": drop_cells(table),
        "paper top-1 (CIFAR-10)": [mean_std(m, s) for m, s in zip(table["paper_top1"], table["paper_std"])],
        "paper seeds": ["–" if pd.isna(n) else int(n) for n in table["paper_seeds"]],
        **versus_cells(table),
        "top-1 at best-val epoch (paper selection)": cells(table, "val_selected_top1"),
        **provenance_cells(table),
    })


def _records_of(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = set(frame["run_id"])
    return [r for r in records if r["run_id"] in ids]


def _per_layer(records: Sequence[dict[str, Any]], key: str) -> pd.DataFrame:
    """Final-epoch per-layer metric (``layer_mse``) of each record: one row per (run, layer)."""
    return pd.DataFrame([
        {"run_id": r["run_id"], "seed": r["config"]["seed"], "layer": layer, key: value}
        for r in records for layer, value in pdqat.final_layer_values(r, key).items()
    ])


def layer_mse_frame(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Fig. 1a: final per-layer MSE between high- and low-precision activations, output-only vs layer-wise run
    (mean over seeds), beside the paper's values for the layers it shows."""
    fig1 = frame[frame["part"] == "fig1"]
    parts = []
    for row, runs in fig1.groupby("row", sort=False):
        values = _per_layer(_records_of(runs, records), "layer_mse").groupby("layer", sort=False)["layer_mse"].mean()
        parts.append(values.rename(FIG1_COLUMNS[row]))
    ours = pd.concat(parts, axis=1).reset_index()
    paper = pd.DataFrame(reference.FIG1_LAYER_MSE).rename(
        columns={"layerwise": "paper: layer-wise", "output only": "paper: output only"})
    return ours.merge(paper, on="layer", how="left")


def fig1_runs(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The runs behind each of our columns of ``layer_mse_frame``: the Fig. 1 output-only and layer-wise runs."""
    fig1 = frame[frame["part"] == "fig1"]
    return {FIG1_COLUMNS[row]: list(dict.fromkeys(runs["run_id"])) for row, runs in fig1.groupby("row", sort=False)}


def layer_mse_plot(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Bars of our per-layer MSE, output-only vs layer-wise (network order)."""
    ours = table.melt(id_vars="layer", value_vars=[c for c in table if c.startswith("ours")], var_name="run",
                      value_name="MSE")
    fig, ax = plt.subplots(figsize=(10, 3.5))
    sns.barplot(ours, x="layer", y="MSE", hue="run", ax=ax)
    ax.tick_params(axis="x", rotation=90)
    ax.set(title=title, ylabel="mean squared difference")
    fig.tight_layout()
    return fig


def dual_history(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Every constraint's dual after every epoch: one row per (run, epoch, constraint)."""
    return pd.DataFrame([
        {"run_id": r["run_id"], "seed": r["config"]["seed"], "epoch": epoch, "constraint": name, "dual": value}
        for r in records for epoch, name, value in pdqat.dual_history(r)
    ])


def dual_plot(history: pd.DataFrame, title: str = "") -> plt.Figure:
    """Heat map of the layer duals per epoch (mean over seeds) and the output dual beside it."""
    mean = history.groupby(["constraint", "epoch"], sort=False)["dual"].mean().reset_index()
    layers = mean[mean["constraint"] != "output"].pivot(index="constraint", columns="epoch", values="dual")
    layers = layers.loc[list(dict.fromkeys(mean.loc[mean["constraint"] != "output", "constraint"]))]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 1]})
    sns.heatmap(layers, ax=axes[0], cmap="viridis", cbar_kws={"label": "dual"})
    axes[0].set(title=f"layer duals {title}", ylabel="")
    output = mean[mean["constraint"] == "output"]
    axes[1].plot(output["epoch"], output["dual"], marker="o")
    axes[1].set(title="output dual", xlabel="epoch")
    fig.tight_layout()
    return fig


def ranking_table(records: Sequence[dict[str, Any]], duals: Sequence[float]) -> pd.DataFrame:
    """Our final layer duals (mean over the runs) and rank, beside the paper's 1-bit duals and rank."""
    names = body_layer_names(records[0])
    table = pd.DataFrame({"index": range(len(names)), "layer": names, "our dual": duals})
    table["our rank"] = table["our dual"].rank(ascending=False, method="first").astype(int)
    table["paper dual (1 bit)"] = table["layer"].map(reference.FIG1_DUALS)
    table["paper rank"] = table["paper dual (1 bit)"].rank(ascending=False, method="first").astype("Int64")
    return table.sort_values("our rank").reset_index(drop=True)


def binding_table(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """For every layer-wise run: its level eps_l, the largest per-layer MSE seen in any epoch, how many layer
    duals ended above zero (0: the layer constraints never bound, and the run is an output-only run), its run."""
    by_id = {r["run_id"]: r for r in records}
    rows = []
    for _, run in frame[frame["row"] == "layerwise"].drop_duplicates("run_id").iterrows():
        record = by_id[run["run_id"]]
        final = pdqat.layer_duals(record)
        rows.append({"bits": run["bits"], "eps_l": f"{run['epsilon_layer']:g}",
                     "largest layer MSE (any epoch)": f"{pdqat.largest_layer_mse(record):.4f}",
                     "layer duals > 0 at the end": sum(v > 0 for v in final),
                     "layers": len(final), "top-1 (%)": round(run["top1"], 2), "run_ids": [run["run_id"]]})
    return pd.DataFrame(rows)


def output_constraint_table(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Whether each PD-QAT run met its output constraint: its level eps_out, the training split's mean output
    cross-entropy E[l_soft] after the first and the last epoch, whether the last is <= eps_out (met; a level the
    model cannot meet keeps its dual rising), the output dual at the end, top-1 and the run."""
    by_id = {r["run_id"]: r for r in records}
    rows = []
    constrained = frame[frame["row"].isin(["output", "layerwise"]) & frame["top1"].notna()]
    for _, run in constrained.drop_duplicates("run_id").iterrows():
        epochs = by_id[run["run_id"]]["epochs"]
        first, last = epochs[0]["output_ce"], epochs[-1]["output_ce"]
        rows.append({"bits": run["bits"], "constraint": run["row"], "eps_out": f"{run['epsilon']:g}",
                     "E[l_soft], epoch 1": round(first, 4), "E[l_soft], last epoch": round(last, 4),
                     "met at the end": last <= run["epsilon"],
                     "output dual at the end": round(pdqat.duals(by_id[run["run_id"]])[pdqat.OUTPUT], 4),
                     "top-1 (%)": round(run["top1"], 2), "run_ids": [run["run_id"]]})
    return pd.DataFrame(rows)


def epsilon_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy against the constraint level at the lowest bit: output-only runs at each eps_out and layer-wise
    runs at each eps_l (mean and std over seeds), and the runs of each level."""
    low = frame["bits"][frame["part"].isin(["epsilon", "fig1"])].min()
    runs = frame[(frame["bits"] == low) & (frame["row"].isin(["output", "layerwise"]))].drop_duplicates("run_id")
    runs = runs.assign(constraint=runs["row"].map({"output": "output (eps_out)", "layerwise": "layer-wise (eps_l)"}),
                       level=runs["epsilon"].where(runs["row"] == "output", runs["epsilon_layer"]))
    return (runs.groupby(["constraint", "level"]).agg(top1=("top1", "mean"), std=("top1", "std"),
                                                      seeds=("seed", "nunique"), run_ids=("run_id", list))
            .reset_index())


def epsilon_plot(table: pd.DataFrame, baseline: float, title: str = "") -> plt.Figure:
    """Test top-1 against the constraint level (log scale), one line per constraint kind, the baseline dashed."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for constraint, group in table.groupby("constraint"):
        ax.errorbar(group["level"], group["top1"], yerr=group["std"], marker="o", capsize=3, label=constraint)
    ax.axhline(baseline, color="grey", linestyle="--", label="baseline (DoReFa)")
    ax.set(xscale="log", xlabel="constraint level epsilon", ylabel="test top-1 (%)", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def mixed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Fig. 1b/c: test and (running, last-epoch) train top-1 against the number of layers kept in high precision,
    per selection rule (and layers chosen by hand); 0 layers is the baseline at the same bit-width. Mean over seeds,
    with the runs of each point."""
    mixed = frame[frame["part"].isin(["mixed", "manual"])]
    bits = mixed["bits"].min()
    baseline = frame[(frame["row"] == "baseline") & (frame["bits"] == bits)].drop_duplicates("run_id")
    zero = pd.concat([baseline.assign(rule=rule, count=0) for rule in mixed["rule"].unique()])
    both = pd.concat([zero, mixed])
    return (both.groupby(["rule", "count"], sort=False)
            .agg(test_top1=("top1", "mean"), train_top1=("train_top1", "mean"), seeds=("seed", "nunique"),
                 run_ids=("run_id", list))
            .reset_index().sort_values(["rule", "count"]))


def mixed_plot(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Gain in top-1 over the all-quantized model against the number of high-precision layers, ours per rule
    (solid) and the paper's (CIFAR-10, 1 bit, dashed), for test and train accuracy."""
    paper = pd.DataFrame(reference.FIG1_MIXED)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)
    for ax, split in zip(axes, ["test", "train"]):
        for rule, group in table.groupby("rule"):
            gain = group[f"{split}_top1"] - group.loc[group["count"] == 0, f"{split}_top1"].mean()
            ax.plot(group["count"], gain, marker="o", label=f"ours: {rule}")
        for rule, group in paper[paper["split"] == split].groupby("rule"):
            ax.plot(group["count"], group["top1"] - group.loc[group["count"] == 0, "top1"].mean(), linestyle="--",
                    marker="x", label=f"paper (CIFAR-10): {rule}")
        ax.set(xlabel="layers kept in high precision", ylabel=f"{split} top-1 gain (points)", title=f"{split} {title}")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def claim_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's claim, PD-QAT against DoReFa at the same bit-width: per (data set, profile, bits) and PD-QAT row,
    our top-1 minus the baseline's, seed by seed (both runs of a seed start from the same 32-bit model; mean ± std
    over the seeds that have both, n), beside the paper's Table 1 difference of means (6 seeds each)."""
    table = frame[(frame["part"] == "table") & frame["top1"].notna()]
    paper = {(r["method"], r["bits"]): r["top1"] for r in reference.ROWS}
    rows = []
    for (data_set, profile, bits), runs in table.groupby(["data_set", "profile", "bits"], sort=False):
        baseline = runs[runs["row"] == "baseline"].drop_duplicates("run_id").set_index("seed")["top1"]
        for row in [r for r in ROW_ORDER if r in ("output", "layerwise") and (runs["row"] == r).any()]:
            ours = runs[runs["row"] == row].drop_duplicates("run_id").set_index("seed")["top1"]
            gaps = (ours - baseline).dropna()
            published = paper.get((row, bits), float("nan")) - paper.get(("baseline", bits), float("nan"))
            rows.append({"data set": data_set, "profile": profile, "bits": bits, "method": ROW_LABELS[row],
                         "ours − DoReFa (points)": series_mean_std(gaps, signed=True), "seeds": len(gaps),
                         "paper: PD-QAT − DoReFa": mean_std(published, signed=True),
                         "run_ids": list(runs[runs["row"].isin([row, "baseline"])]["run_id"].unique())})
    return pd.DataFrame(rows, columns=["data set", "profile", "bits", "method", "ours − DoReFa (points)", "seeds",
                                       "paper: PD-QAT − DoReFa", "run_ids"])


def epsilon_study(planned: Iterable[Any]) -> str:
    """The epsilon study's plan in one sentence: its bit-width and each output level with the seeds it runs at,
    from the ``planned`` runs (part "epsilon"), so the page cannot name a level it did not plan."""
    study = [p.config for p in planned if p.part == "epsilon"]
    if not study:
        return "No epsilon study is planned."
    seeds: dict[float, set[int]] = {}
    for config in study:
        seeds.setdefault(config.options["epsilon"], set()).add(config.seed)
    levels = "; ".join(f"{level:g} (seed{'s' if len(s) > 1 else ''} {', '.join(map(str, sorted(s)))})"
                       for level, s in sorted(seeds.items()))
    return f"The epsilon study's output levels at {min(c.bits for c in study)} bits: {levels}."


def epsilon_reach(frame: pd.DataFrame, records: Iterable[dict[str, Any]]) -> str:
    """Which output levels the constrained runs used, how close the model came to them, and how far they could act.

    A level enters training only through its dual: the primal step's gradient of lambda * (E[l_soft] - eps) is
    lambda * grad E[l_soft], whatever eps is, and the dual moves by dual_lr * slack once per epoch (qrepro.methods.
    pdqat_constraints). So two levels the model meets or misses by a little train alike until their duals part."""
    by_id = {r["run_id"]: r for r in records}
    constrained = frame[frame["row"].isin(["output", "layerwise"]) & frame["top1"].notna()].drop_duplicates("run_id")
    if constrained.empty:
        return ""
    parts, moves, misses = [], [], []
    for bits, runs in constrained.sort_values("bits", ascending=False).groupby("bits", sort=False):
        levels = sorted(set(runs["epsilon"]))
        last = [by_id[rid]["epochs"][-1]["output_ce"] for rid in runs["run_id"]]
        misses += [value - eps for value, eps in zip(last, runs["epsilon"])]
        parts.append(f"{bits} bits: ε_out {', '.join(f'{e:g}' for e in levels)}, E[l_soft] after the last epoch "
                     f"{'–'.join(dict.fromkeys(f'{v:.3f}' for v in (min(last), max(last))))}")
        for rid in runs["run_id"]:
            history = [e.get("dual", []) for e in by_id[rid]["epochs"]]
            start = [1.0 if name == pdqat.OUTPUT else 0.0 for name in by_id[rid]["summary"]["constraints"]]
            moves.append(max(abs(d - s) for epoch in history for d, s in zip(epoch, start)))
    epochs, dual_lr = int(constrained["epochs"].max()), max(option(constrained, "dual_lr"))
    papers = all(eps == pdqat.paper_epsilon(bits) for eps, bits in zip(constrained["epsilon"], constrained["bits"]))
    whose = "the paper's" if papers else "not all the paper's"
    return (f"The levels are {whose} ({'; '.join(parts)}): the model ends within {max(misses):.3f} of them "
            f"({'met' if max(misses) <= 0 else 'not met'}). A level acts on training only through its dual: the "
            f"primal gradient of λ·(E[l_soft] − ε) is λ·∇E[l_soft] whatever ε is, and the dual moves by "
            f"{dual_lr:g} × the slack once per epoch. Over these {epochs}-epoch runs no dual moved more than "
            f"{max(moves):.4f} from where it started, and a level Δ away would have moved it by at most "
            f"{epochs} × {dual_lr:g} × Δ more ({epochs * dual_lr * 0.1:.3f} for Δ = 0.1): on this schedule every "
            f"level the model can meet trains nearly the same network, so one level per bit-width is run.")
