# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Scoreboard: every method on one model, one data set, one schedule
#
# The chapters reproduce each paper on its own terms (its model, schedule and tricks). Here every method of
# the package runs under one protocol, so their accuracy drops can be compared with each other:
#
# - **ResNet-20** at 2, 3 and 4 bits: APoT, DoReFa and PD-QAT (weights and activations), INQ (weights), and
#   the post-training GPFQ and round-to-nearest MSQ (weights, at GPFQ's default alphabet scalar 1.16);
# - **VGG-9** at 1 bit (BWN, SQ-BWN) and 2 bits, i.e. ternary (TWN, SQ-TWN, TTQ, ELQ).
#
# Each model's full-precision version is trained once per seed (SGD, lr 0.1, cosine); every quantized model
# starts from it and trains with SGD at lr 0.01, cosine, for the same budget of epochs. SQ, INQ and ELQ split
# that budget over their stages. The drop is measured against that full-precision model. PD-QAT needs one
# BatchNorm per precision, so it runs on its own pre-activation ResNet-20 (width 1) and full-precision
# model of that architecture, under the same schedule. Numbers come from run records only: a profile
# without a record for a cell says so.

# %% tags=["parameters"]
profile = "smoke"  # the profile this page runs (smoke: digits, CPU) | quick | paper; all are shown
data = ""  # empty: the data set of each profile (smoke: digits, else cifar10); or cifar10-jpeg
data_root = ""  # empty: the default location of the data set
epochs = 0  # 0: the epochs of the profile (full precision and quantization budget alike)
seeds = 1  # seeds 0 .. seeds-1; cells show mean ± std
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from qrepro import report
from qrepro.algorithms import scoreboard
from qrepro.profiles import PROFILES
from qrepro.report import scoreboard as scoreboard_report
from qrepro.runs import get_or_run_all

shown = list(PROFILES)
get_or_run_all(scoreboard.sweep(profile, data, epochs, seeds), data_root=data_root, device=device,
               progress=profile != "smoke")
cells = [c for p in shown for c in scoreboard.plan(p, data, epochs if p == profile else 0, seeds)]
records = scoreboard_report.recorded(cells)
frame = scoreboard_report.scoreboard_frame(cells, records)
data_sets = {p: scoreboard.profile_data(p, data) for p in shown}
display(Markdown(f"**{len(records)} runs** behind this page: "
                 + ", ".join(f"`{p}` on `{data_sets[p]}`: {len(frame[frame.profile == p])} cells" for p in shown)))

# %% [markdown]
# ## Accuracy drop per method and bit-width
# Each cell: top-1 drop against the full-precision model of the same profile, data set, model and seeds
# (mean ± std over seeds), the quantized model's top-1, the number of seeds, and links to the runs.
# Smoke numbers come from 8×8 digits and a few epochs: they show that every method runs end to end under
# one protocol, not how the methods rank on CIFAR-10.

# %%
for shown_profile in shown:
    display(scoreboard_report.scoreboard_table(frame, shown_profile, data_sets[shown_profile]))

# %%
ran = frame[frame.profile == profile]
scoreboard_report.drop_plot(ran, title=f"{profile} profile, {data_sets[profile]}")
plt.show()

# %% [markdown]
# ## Provenance
# Every run behind the numbers on this page, the full-precision models included.

# %%
report.provenance_table(report.runs_frame(records.values()))
