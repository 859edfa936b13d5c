"""Paper vs ours: the one pipeline behind every chapter's tables of compared numbers.

    runs: one row per run (tables.runs_frame, or a chapter's frame built on it), with the chapter's key columns
      -> ``over_seeds``: mean and sample std over seeds per key (the book's one convention, report.stats), the
         seeds, each seed's own top-1, whether any run is stale, and the runs of each row (``run_ids``)
      -> ``drop_against``: the drop against our own full-precision model of the same data set, profile and arch,
             drop = mean top-1 (our full precision) - mean top-1 (quantized), and its standard deviation over
             seeds, drop_sd = sqrt(sd(quantized)^2 + sd(full precision)^2) (0 from one seed)
      -> ``published_drops``: the reference's rows (a paper's, or the seed project's), each with its drop against
         the same source's own full-precision number, never against ours
      -> ``versus``: joined on the key columns they share, our drop minus theirs and the verdict (tables.verdict)
      -> display cells: ``cells`` (mean ± std), ``drop_cells``, ``versus_cells`` (the verdict columns) and
         ``provenance_cells`` (each seed's top-1, "made by" and ``run_ids``, which tables.show_table links to the
         provenance table).

``compare`` runs the first four steps. ``accuracy_table`` and ``show_accuracy`` are the plain (method, bits)
table of a chapter with no table of its own and of the command line; the other chapters' report modules choose
their own columns from the same cells.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from .stats import mean_std
from .tables import GROUP, VERDICT, made_by, show_table, signed, verdict

BASELINE = "baseline (the drops are measured from it)"


def over_seeds(runs: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str] = ("top1",), sort: bool = False,
               **columns: tuple[str, str]) -> pd.DataFrame:
    """One row per value of ``keys`` (in order of appearance, or sorted): each metric's mean and sample std over
    the runs (``{metric}_mean``, ``{metric}_std``), the number of ``seeds``, each seed's top-1 in seed order
    (``per_seed``: (seed, top-1) pairs, so that no seed hides in a mean), whether any run is ``stale`` (where the
    runs say), the runs (``run_ids``), and each of ``columns`` as a pandas named aggregation, e.g.
    ``bits=("bits", "first")``."""
    aggregations = {f"{m}_{how}": (m, how) for m in metrics for how in ("mean", "std")}
    stale = {"stale": ("stale", "any")} if "stale" in runs else {}
    runs = runs.assign(seed_top1=list(zip(runs["seed"], runs["top1"])))
    return (runs.groupby(list(keys), sort=sort)
            .agg(**aggregations, **columns, seeds=("seed", "nunique"), per_seed=("seed_top1", sorted), **stale,
                 run_ids=("run_id", list))
            .reset_index())


def drop_against(frame: pd.DataFrame, fp: pd.DataFrame, by: Sequence[str], value: str = "top1_mean") -> pd.Series:
    """Each row's drop against its full-precision number: the mean ``top1`` of the ``fp`` rows with the row's
    ``by`` values (and, where the row lists its seeds in ``per_seed`` and ``fp`` has a ``seed``, of those seeds
    only: a row of one seed is measured against that seed's model, not the mean of three), minus the row's
    ``value``; NaN where there is no such row."""
    return fp_of(frame, fp, by, "mean") - frame[value]


def fp_of(frame: pd.DataFrame, fp: pd.DataFrame, by: Sequence[str], how: str) -> pd.Series:
    """Per row of ``frame``: the ``how`` ("mean" or "std") of the ``top1`` of its full-precision rows in ``fp`` (same
    ``by`` values, and the row's own seeds where both say which)."""
    by = list(by)
    if "per_seed" not in frame or "seed" not in fp:
        return frame[by].join(fp.groupby(by)["top1"].agg(how).rename("fp"), on=by)["fp"]
    values = []
    for key, pairs in zip(frame[by].itertuples(index=False), frame["per_seed"]):
        same = fp[(fp[by] == pd.Series(key, index=by)).all(axis=1) & fp["seed"].isin([s for s, _ in pairs])]
        values.append(same["top1"].agg(how) if len(same) else float("nan"))
    return pd.Series(values, index=frame.index, dtype=float)


def published_drops(rows: pd.DataFrame, by: Sequence[str], is_fp: pd.Series, name: str = "paper") -> pd.DataFrame:
    """Published rows (column ``top1``) with ``{name}_top1`` and ``{name}_drop``, the drop against the full-precision
    row (``is_fp``) of the same source's ``by`` (e.g. its table for the same architecture)."""
    return rows.assign(**{f"{name}_top1": rows["top1"], f"{name}_drop": drop_against(rows, rows[is_fp], by, "top1")})


def versus(table: pd.DataFrame, reference: pd.DataFrame, name: str = "paper", data: str = "cifar10") -> pd.DataFrame:
    """``table`` (with its ``drop`` and ``data_set``) joined with the ``reference`` rows (``published_drops``, reduced
    to the columns to join on and to show) on the columns both have, at most one reference row per row; then
    ``drop_minus_{name}`` and the ``verdict`` on the reference's drop (tables.verdict; ``data``: the reference's
    data set). A row without a reference row keeps its numbers; its verdict says there is no {name} number. A
    32-bit row on the reference's data set is the baseline of the drops: its verdict says so."""
    on = [c for c in reference.columns if c in table.columns]
    out = table.merge(reference, on=on, how="left", validate="many_to_one")
    out[f"drop_minus_{name}"] = out["drop"] - out[f"{name}_drop"]
    spread = out["drop_sd"] if "drop_sd" in out else [0.0] * len(out)
    profiles = out["profile"] if "profile" in out else [""] * len(out)
    out["verdict"] = [verdict(d, data_set, data, name, sd, n, profile) for d, data_set, sd, n, profile
                      in zip(out[f"drop_minus_{name}"], out["data_set"], spread, out["seeds"], profiles)]
    if "bits" in out:  # the full-precision rows are what the drops are measured from: nothing to judge
        out.loc[(out["bits"] == 32) & ~out["verdict"].str.startswith("n/a"), "verdict"] = BASELINE
    return out


def compare(runs: pd.DataFrame, keys: Sequence[str], fp: pd.DataFrame | str, by: Sequence[str] = GROUP,
            metrics: Sequence[str] = ("top1",), reference: pd.DataFrame | None = None, name: str = "paper",
            data: str = "cifar10", sort: bool = False, **columns: tuple[str, str]) -> pd.DataFrame:
    """``over_seeds`` per ``keys``, each row's ``drop`` against our full-precision model and, with a ``reference``,
    ``versus`` it. ``fp``: our full-precision runs (their mean top-1 per ``by`` is the model's number), or the name
    of a metric that holds each run's own full-precision top-1 (a post-training run evaluates the model it
    quantizes, ``original_top1``)."""
    table = over_seeds(runs, keys, metrics, sort, **columns)
    if isinstance(fp, str):
        table["drop"], fp_sd = table[f"{fp}_mean"] - table["top1_mean"], table[f"{fp}_std"]
    else:
        table["drop"] = drop_against(table, fp, by)
        fp_sd = fp_of(table, fp, by, "std")
    table["drop_sd"] = (table["top1_std"].fillna(0) ** 2 + fp_sd.fillna(0) ** 2) ** 0.5
    return table if reference is None else versus(table, reference, name, data)


HEADLINE_COLUMNS = ["row", "bits", "reference", "reference_drop", "drop", "drop_sd", "seeds", "per_seed", "verdict",
                    "data_set", "profile", "run_ids"]


def headline_rows(table: pd.DataFrame, rows: Sequence[str], name: str = "paper") -> pd.DataFrame:
    """A ``versus`` table in the one shape the book's verdict table (report.verdicts) reads: the row's label, bits,
    whose drop it is compared with, that drop, ours with its sd, the seeds and each seed's top-1, the verdict, the
    data set, the profile and the runs (no rows for an empty ``table``)."""
    if table.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    return pd.DataFrame({
        "row": list(rows), "bits": list(table["bits"]), "reference": name,
        "reference_drop": list(table[f"{name}_drop"]), "drop": list(table["drop"]), "drop_sd": list(table["drop_sd"]),
        "seeds": list(table["seeds"]), "per_seed": list(table["per_seed"]), "verdict": list(table["verdict"]),
        "data_set": list(table["data_set"]), "profile": list(table["profile"]), "run_ids": list(table["run_ids"]),
    })


def cells(table: pd.DataFrame, metric: str, digits: int = 2, std: bool = True, signed: bool = False,
          missing: str = "–") -> list[str]:
    """``metric``'s mean ± std over seeds per row of an ``over_seeds`` table (the mean alone without ``std``)."""
    means, stds = table[f"{metric}_mean"], table[f"{metric}_std"] if std else [float("nan")] * len(table)
    return [mean_std(m, s, n, digits, signed, missing) for m, s, n in zip(means, stds, table["seeds"])]


def drop_cells(table: pd.DataFrame) -> list[str]:
    """Our drop per row, signed; "no FP record" where our full-precision model has no record."""
    return ["no FP record" if pd.isna(d) else signed(d) for d in table["drop"]]


def versus_cells(table: pd.DataFrame, name: str = "paper", label: str | None = None) -> dict[str, list[str]]:
    """The verdict columns of a table ``versus`` a reference: "{label} drop" (``label``: the reference's column head,
    e.g. "seed (CIFAR-10 ResNet-18)"; ``name`` by default), "drop − {name} drop" and the verdict."""
    return {f"{label or name} drop": [signed(v) for v in table[f"{name}_drop"]],
            f"drop − {name} drop": [signed(v) for v in table[f"drop_minus_{name}"]],
            VERDICT: list(table["verdict"])}


def provenance_cells(table: pd.DataFrame) -> dict[str, list[Any]]:
    """The last columns of every table of runs: each seed's top-1 ("seed: top-1", every seed, a collapsed one
    too), made by which code, and the runs (``run_ids``)."""
    per_seed = ["; ".join(f"{seed}: {top1:.2f}" for seed, top1 in pairs) for pairs in table["per_seed"]]
    return {"top-1 per seed": per_seed, "made by": [made_by(s) for s in table["stale"]],
            "run_ids": list(table["run_ids"])}


def accuracy_table(runs: pd.DataFrame, paper: pd.DataFrame | None = None, keys: tuple[str, ...] = ("method", "bits"),
                   is_baseline: Callable[[pd.DataFrame], pd.Series] = lambda df: df["bits"] == 32) -> pd.DataFrame:
    """``compare`` per (data set, profile, arch, *keys): top-1 and best-test-epoch top-1 over seeds and the drop
    against the full-precision runs (``is_baseline``) of the same data set, profile and arch.

    ``paper`` has columns arch, bits, top1 (one source) and data; its drop is against its own 32-bit row of the same
    arch, and each row gets a verdict (``paper_top1``, ``paper_drop``, ``drop_minus_paper``, ``verdict``).
    """
    reference, data = None, "cifar10"
    if paper is not None:
        reference = published_drops(paper, ["arch"], paper["bits"] == 32)[["arch", "bits", "paper_top1", "paper_drop"]]
        data = paper["data"].iloc[0] if "data" in paper else data
    return compare(runs, [*GROUP, *keys], runs[is_baseline(runs)], metrics=("top1", "best_test_top1"),
                   reference=reference, data=data)


def show_accuracy(table: pd.DataFrame, links: bool = True) -> Styler:
    """The accuracy table as a reader sees it: formatted numbers, seeds, a verdict, a flag on stale numbers,
    and (``links``) each row's runs linked to their rows of the page's provenance table."""
    out = table[[c for c in [*GROUP, "method", "variant", "bits"] if c in table]].copy()
    out["top-1 (%)"] = cells(table, "top1", missing="no record")
    out["seeds"] = table["seeds"]
    out["drop"] = drop_cells(table)
    if "paper_top1" in table:
        out["paper top-1"] = [mean_std(v) for v in table["paper_top1"]]
        out = out.assign(**versus_cells(table))
    out["best test epoch (selected on test)"] = cells(table, "best_test_top1", std=False)
    provenance = provenance_cells(table)
    out["top-1 per seed"] = provenance["top-1 per seed"]
    out["made by"] = provenance["made by"]
    if links:
        out["run_ids"] = provenance["run_ids"]
    return show_table(out)
