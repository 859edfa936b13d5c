"""PD-QAT (Hounie, Elenter, Ribeiro, ICASSP 2023, arXiv 2210.15623) CIFAR-10 numbers, read from the saved
outputs of the official repository's notebooks (ihounie/con-qat notebooks/), with their sources.

Table 1: test accuracy (%) of resnet20q (pre-activation ResNet-20 x5), mean +- population std over 6 seeds, each
seed's test accuracy taken at its epoch of best validation accuracy of the b-bit model. "output" is the paper's
column (i), output constraint only; "layerwise" its column (ii), layer-wise L2 constraints plus the output one.
The official "DoReFa" baseline mixed two training procedures across its seeds (ihounie/con-qat git history:
train_anyprec.py --vanilla for seeds 0-2, train_vanilla.py --vanilla for seeds 3-5).

Fig. 1 (1 bit): values read off the notebook's plots, hence approximate (about +-0.005 MSE, +-0.2 points); the
plots do not say at which epoch their accuracies were taken, and the mixed-precision runs were retrained with
plain QAT (train_selec.py). The duals that rank the layers are the final ones, averaged over seeds.
"""

TABLE_SOURCE = ("ihounie/con-qat notebooks/final_table.ipynb, saved LaTeX output of the paper's Table 1 "
                "(the paper PDF itself was not readable)")
FIG1_SOURCE = ("ihounie/con-qat notebooks/per_layer_l2.ipynb and layer_select_results.ipynb, values read off the "
               "saved plots of the paper's Fig. 1, approximate")
RANKING_SOURCE = ("ihounie/con-qat notebooks/per_layer_l2.ipynb: final duals at 1 bit, eps_l = 0.0125, mean over "
                  "seeds (the ranking of the paper's Fig. 1b/c)")

SOURCES = {"paper": TABLE_SOURCE, "paper Fig. 1": FIG1_SOURCE}
SELECTION = "test accuracy at the epoch of best validation accuracy (10% of the training set held out)"

# row: {bits: (mean, std)}; 32 = the full-precision model, shared by every column
_TABLE = {
    "full precision": {32: (91.50, 0.26)},
    "baseline": {8: (91.34, 0.24), 4: (91.38, 0.16), 2: (89.38, 0.34), 1: (84.91, 0.36)},
    "output": {4: (91.20, 0.14), 2: (89.43, 0.24), 1: (85.29, 0.27)},
    "layerwise": {4: (91.48, 0.23), 2: (89.63, 0.14), 1: (85.52, 0.33)},
}

ROWS = [
    {"source": "paper", "arch": "preact_resnet20", "data": "cifar10", "method": row, "bits": bits, "top1": mean,
     "std": std, "seeds": 6, "selection": SELECTION}
    for row, values in _TABLE.items()
    for bits, (mean, std) in values.items()
]

# Fig. 1a: per-layer MSE between high- and low-precision activations, the 4 layers with the largest gap;
# layer-wise run eps_l = 0.0125 vs eps_l = 1.0 (which cannot bind: an output-only run in effect)
FIG1_LAYER_MSE = [
    {"layer": "blocks.7.conv0", "layerwise": 0.04, "output only": 0.18},
    {"layer": "blocks.7.conv1", "layerwise": 0.015, "output only": 0.105},
    {"layer": "blocks.8.conv0", "layerwise": 0.03, "output only": 0.137},
    {"layer": "blocks.8.conv1", "layerwise": 0.019, "output only": 0.081},
]

# Fig. 1b/c: 1-bit accuracy (%) with n layers kept in full precision, chosen by the largest or the smallest duals
FIG1_MIXED = [
    {"count": count, "rule": rule, "split": split, "top1": top1}
    for count, values in {0: (85.2, 85.2, 91.4, 91.4), 1: (85.6, 85.6, 91.4, 91.0), 2: (85.8, 85.5, 91.8, 90.8),
                          4: (87.4, 86.0, 94.2, 91.8), 8: (88.0, 86.3, 95.8, 92.9)}.items()
    for (rule, split), top1 in zip([("largest", "test"), ("smallest", "test"), ("largest", "train"),
                                    ("smallest", "train")], values)
]

# final 1-bit duals per layer (ascending), official layer names mapped to ours
FIG1_DUALS = {
    "blocks.8.conv1": 0.0199, "blocks.7.conv1": 0.0227, "blocks.5.conv1": 0.0255, "blocks.3.conv1": 0.0277,
    "blocks.2.conv1": 0.0282, "blocks.4.conv1": 0.0299, "blocks.1.conv1": 0.0301, "blocks.8.conv0": 0.0327,
    "blocks.6.conv1": 0.0333, "blocks.0.conv1": 0.0349, "blocks.5.conv0": 0.0422, "blocks.7.conv0": 0.0440,
    "blocks.2.conv0": 0.0450, "blocks.6.conv0": 0.0458, "blocks.4.conv0": 0.0467, "blocks.3.conv0": 0.0505,
    "blocks.1.conv0": 0.0510, "blocks.0.conv0": 0.0597, "blocks.6.shortcut": 0.0604, "blocks.3.shortcut": 0.0693,
}
