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
# # Scoreboard: every method on one model, one data set, one schedule
#
# The chapters reproduce each paper on its own terms (its model, schedule and tricks). Here every method of
# the package runs under one protocol, so their accuracy drops can be compared with each other. Each
# architecture's full-precision model is trained once per seed; every quantized model starts from it and trains
# with SGD at lr 0.01, cosine, for the same budget of epochs (SQ, INQ and ELQ split it over their stages); the
# post-training methods (GPFQ, round-to-nearest MSQ, at GPFQ's default alphabet scalar 1.16) quantize it without
# training. PD-QAT needs one BatchNorm per precision, so it runs on its own pre-activation ResNet-20 (width 1) and
# the full-precision model of that architecture. The drop is measured against the full-precision model of the
# cell's own architecture and seed. Which models and bit-widths a profile runs:
#
# - `quick` and `paper` (a GPU): ResNet-20 at 2, 3 and 4 bits for APoT, DoReFa, PD-QAT, INQ, GPFQ and MSQ, and
#   VGG-9 at 1 bit (BWN, SQ-BWN) and 2 bits, i.e. ternary (TWN, SQ-TWN, TTQ, ELQ);
# - `lite` (a 2-core CPU, `cifar10-jpeg`): every method on ResNet-20, the binary and ternary ones too (VGG-9
#   costs about 4× ResNet-20's multiply-adds per image), at 2 and 4 bits for the multi-bit methods, from the
#   converged full-precision models every lite chapter shares;
# - `smoke` (what a fresh build trains): digits, a few epochs.
#
# Each table's caption gives the schedule its records ran (read from them), the seeds, dates and devices. A
# cell's "2 bit" means what the method makes of 2 bits: 3 levels for the ternary methods, APoT's weights and INQ
# (whose one magnitude is fixed by the largest weight, so most weights become 0), 4 for DoReFa; the `quantized`
# column says whether activations are quantized too. These drops compare the methods with each other under one short
# budget: they neither confirm nor refute a paper's numbers (each chapter does that under its own protocol).
# Numbers come from run records only: a profile without a record for a cell says so.

# %% tags=["parameters"]
profile = "smoke"  # the profile this page runs (smoke: digits, CPU); lite, quick and paper are shown from records
data = ""  # empty: the data set of each profile (smoke: digits, lite: cifar10-jpeg, else cifar10); or cifar10-jpeg
data_root = ""  # empty: the default location of the data set
epochs = 0  # 0: the epochs of the profile (full precision and quantization budget alike)
seeds = 1  # seeds 0 .. seeds-1; cells show mean ± std
device = "auto"  # auto | cpu | cuda

# %% tags=["remove-input"]
from qrepro.chapters import notebook_parameters

params, runtime = notebook_parameters("scoreboard", globals())  # an unknown parameter (e.g. a misspelt -p) stops here

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from qrepro import report
from qrepro.report import scoreboard as scoreboard_report
from qrepro.runs import run_chapter

report.show_tables("scoreboard")  # every table scrolls in its own box, with a CSV download

# %% tags=["hide-input"]
run_chapter(params, **runtime)
page = scoreboard_report.page(params)
real, smoke = page.real, page.smoke
shown = real.groupby(["profile", "data_set"], sort=False).size() if len(real) else {}
display(Markdown(f"**{len(page.records)} runs** behind this page: "
                 + "".join(f"`{p}` on `{d}`: {n} cells; " for (p, d), n in dict(shown).items())
                 + f"`smoke` on `{page.smoke_data}`: {len(smoke)} cells."))

# %% [markdown]
# ## On CIFAR-10 images
# Each cell: top-1 drop against the full-precision model of the same profile, data set, model and seeds
# (mean ± std over seeds), the quantized model's top-1, the number of seeds, and links to the runs. The caption
# gives the schedule, the seeds, the dates and the devices.

# %% tags=["hide-input"]
for table in scoreboard_report.real_data_tables(real):
    display(table)

# %% tags=["hide-input"]
for (real_profile, data_set), group in real.groupby(["profile", "data_set"], sort=False) if len(real) else []:
    scoreboard_report.drop_plot(group, title=f"{real_profile} profile, {data_set}")
    plt.show()

# %% [markdown]
# ## What the fresh build trains: the smoke profile on digits
# Smoke numbers come from 8×8 digits and a few epochs on a CPU: they show that every method runs end to end
# under one protocol, not how the methods rank on CIFAR-10.

# %% tags=["hide-input"]
display(scoreboard_report.scoreboard_table(smoke, "smoke", page.smoke_data))

# %% tags=["hide-input"]
scoreboard_report.drop_plot(smoke, title=f"smoke profile, {page.smoke_data}")
plt.show()

# %% [markdown]
# ## Provenance
# Every run behind the numbers on this page, the full-precision models included.

# %% tags=["hide-input"]
report.provenance_table(report.runs_frame(page.records.values()))
