# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # APoT: additive powers-of-two quantization
#
# Li, Dong and Wang ([ICLR 2020](https://arxiv.org/abs/1909.13144)) quantize weights and activations to
# sums of powers of two: a level set that is dense near zero, where most weights are, yet cheap to
# multiply by (shifts and adds). For $b = kn$ bits, $k = 2$:
#
# $$\mathcal{Q}^a(\alpha, kn) = \gamma \times \Big\{\sum_{i=0}^{n-1} p_i\Big\},\qquad
#   p_i \in \{0, 2^{-i}, 2^{-(i+n)}, \dots, 2^{-(i+(2^k-2)n)}\},$$
#
# with $\gamma$ chosen so that the largest level is the clipping value $\alpha$. Weights are normalized
# per layer ($\hat W = (W - \mu)/\sigma$), clipped at a **learned** $\alpha$ and projected to the nearest
# level; the gradient passes straight through to $\hat W$ and reaches $\alpha$ as
# $\partial Q/\partial\alpha = \mathrm{sign}(x)$ outside the clipping range and $\Pi(x) - x$ inside it
# ($x = \hat W/\alpha$). Following the official code, each bit-width is trained from the next-higher one
# (32 → 4 → 3 → 2), the stem and the classifier stay at 8 bits, 2-bit weights are ternary and 3-bit
# weights are plain powers of two.
#
# This page runs with the parameters below; `papermill book/apot.ipynb out.ipynb -p bit 2 -p profile quick`
# runs the same code on CIFAR-10 (see [Reproduce](reproduce.md)).

# %% tags=["parameters"]
bit = "4,3,2"  # bit-widths to show; each brings its parents (32 -> 4 -> 3 -> 2; 5 from 32)
arch = "resnet20"  # resnet20 | resnet32 | resnet56
profile = "smoke"  # smoke (digits, CPU) | lite (cifar10-jpeg, CPU, 15 epochs/stage) | quick (GPU minutes) | paper (300)
data = ""  # empty: the data set of the profile (smoke: digits, else cifar10); or cifar10-jpeg
data_root = ""  # empty: the default location of the data set
epochs = 0  # 0: the epochs per stage of the profile
seeds = 1  # seeds 0 .. seeds-1; tables show mean ± std
device = "auto"  # auto | cpu | cuda

# %% tags=["remove-input"]
from qrepro.chapters import notebook_parameters

params, runtime = notebook_parameters("apot", globals())  # an unknown parameter (e.g. a misspelt -p) stops here

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from qrepro import report
from qrepro.quantizers import apot_levels
from qrepro.report.apot import clipping_plot, lowest_bit_histogram
from qrepro.runs import run_chapter

report.show_tables("apot")  # every table scrolls in its own box, with a CSV download

# %% [markdown]
# ## On CIFAR-10 images (profile lite, data set cifar10-jpeg): does the paper's drop hold?

# %% tags=["remove-input"]
from qrepro.report import lite as lite_report
from qrepro.report import verdicts

lite = lite_report.evidence("apot")
display(Markdown(verdicts.answer("apot", lite)))

# %% [markdown]
# The paper's protocol (progressive 4 → 3 → 2 bits, the official per-stage learning rates, weight decays and
# clipping-value groups) at a 2-core CPU's length, from a converged full-precision ResNet-20 of each seed (three
# seeds planned; the line below says which have records), on `cifar10-jpeg`: a JPEG copy of CIFAR-10 on which
# converged models score lower than on the official arrays. Compare the **drop**, not the absolute accuracy. Read
# from committed records only: this page never trains on CIFAR-10. The tables below are built from the runs'
# configs and records.

# %% tags=["hide-input"]
paper = report.paper_table("apot")
display(Markdown(lite_report.status(lite)))
lite_runs = lite_report.planned_runs(lite)
if len(lite_runs):
    display(report.show_accuracy(report.accuracy_table(lite_runs, paper=paper[paper.source == "paper"])))

# %% [markdown]
# How these runs differ from the paper's protocol (its `paper` profile here), one row per difference:

# %% tags=["hide-input"]
lite_report.deviations_table(lite)

# %% [markdown]
# What the runs did, stage by stage:

# %% tags=["hide-input"]
lite_report.protocol_table(lite)

# %% [markdown]
# Accuracy after each progressive stage, and the learned clipping values $\alpha$ per layer (weights in units of
# the layer's weight std; every $\alpha$ is kept $\geq 10^{-3}$, as the quantizer requires $\alpha > 0$):

# %% tags=["hide-input"]
lite_records = lite_report.planned_records(lite)
if any(r["config"]["method"] == "apot" for r in lite_records):
    report.training_curves(lite_records, hue="bits", title="ResNet-20, APoT, cifar10-jpeg (lite)")
    plt.show()
    clipping_plot(lite_records)
    plt.show()

# %% [markdown]
# The runs behind these rows, their parents included (each record names the run it started from):

# %% tags=["hide-input"]
lite_report.provenance(lite)

# %% [markdown]
# ## The level sets
# Normalized levels ($\alpha = 1$) of weights (signed, $b-1$ magnitude bits) and activations (unsigned).

# %% tags=["hide-input"]
report.level_sets({f"{b}-bit weights": apot_levels(b, signed=True).tolist() for b in (2, 3, 4, 5)}
                  | {f"{b}-bit activations": apot_levels(b, signed=False).tolist() for b in (2, 3, 4, 5)})
plt.show()

# %% [markdown]
# ## What a fresh build runs: this page's own parameters
# Everything below shows the runs of the parameters cell at the top. With its defaults (profile `smoke`:
# 8×8 `digits`, seconds on a CPU) they are what a fresh build trains to prove that the code runs end to end;
# their numbers say nothing about the paper. `papermill book/apot.ipynb out.ipynb -p profile quick` makes
# them CIFAR-10 runs on a GPU (see [Reproduce](reproduce.md)).

# %% tags=["hide-input"]
records = run_chapter(params, **runtime).records
runs = report.runs_frame(records)
display(Markdown(f"**{len(records)} runs** (profile `{profile}`, data set `{runs.data_set.iloc[0]}`, "
                 f"{arch}, seeds: {seeds}); every number below comes from their records."))

# %% [markdown]
# ### Paper vs ours
# Top-1 of the **last** epoch, mean ± std over seeds. The drop is against our own full-precision model
# (same code, data and schedule; 8-bit stem and classifier, as in the paper's code), and the paper's
# drop against the paper's. Paper numbers are CIFAR-10; compare drops, not accuracies, when our data set
# is another. The best-test-epoch column is test-set selection, shown only because the official code
# reports it.

# %% tags=["hide-input"]
paper = report.paper_table("apot")
table = report.accuracy_table(runs, paper=paper[paper.source == "paper"])
report.show_accuracy(table)

# %% [markdown]
# Published CIFAR-10 numbers we compare against (the paper's, the official code's and the seed
# project's), with their sources:

# %% tags=["hide-input"]
paper.pivot_table(index=["source", "arch"], columns="bits", values="top1").sort_index(axis=1, ascending=False)

# %% tags=["hide-input"]
paper[["source", "citation"]].drop_duplicates().style.hide(axis="index")

# %% [markdown]
# ### Training curves
# Each quantized stage starts from the weights of the stage above it.

# %% tags=["hide-input"]
report.training_curves(records, hue="bits", title=f"{arch}, APoT, {runs.data_set.iloc[0]} ({profile})")
plt.show()

# %% [markdown]
# ### Quantized weights on the APoT grid
# How many weights of all quantized layers sit on each level, for the lowest bit-width run here.

# %% tags=["hide-input"]
lowest_bit_histogram(records)
plt.show()

# %% [markdown]
# ### Learned clipping values
# $\alpha$ per layer for weights (in units of the layer's weight std) and activations, per bit-width.

# %% tags=["hide-input"]
clipping_plot(records)
plt.show()

# %% [markdown]
# ### Provenance
# Every run behind the numbers on this page. Records made by older package code are flagged `stale`.

# %% tags=["hide-input"]
report.provenance_table(runs)
