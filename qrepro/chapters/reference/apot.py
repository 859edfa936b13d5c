"""APoT (Li, Dong, Wang, "Additive Powers-of-Two Quantization", ICLR 2020) CIFAR-10 accuracies: the paper's table
as the seed project quotes it, the official code's README and released checkpoints, the seed's reproduction."""

SOURCES = {
    "paper": "Li, Dong, Wang, ICLR 2020, CIFAR-10 table; as quoted by the seed project "
             "SangbeomJeong/Reproducibility-Project (README 'paper table'), not checked against the PDF",
    "official": "yhhhli/APoT_Quantization README and released checkpoints (best_prec: best test epoch)",
    "seed": "SangbeomJeong/Reproducibility-Project README (300 epochs, own FP baselines)",
}

_ACCURACY = {
    # source: {arch: (FP, 4-bit, 3-bit, 2-bit)}; FP models keep the 8-bit stem and classifier
    "paper": {"resnet20": (91.6, 92.3, 92.2, 91.0), "resnet56": (93.2, 94.0, 93.9, 92.9)},
    "official": {"resnet20": (92.96, 92.45, 92.49, 90.96), "resnet56": (94.46, 93.93, 93.77, 93.05)},
    "seed": {"resnet20": (92.90, 92.56, 92.53, 91.02), "resnet56": (93.94, 93.85, 93.46, 92.75)},
}
_SELECTION = {"paper": "as published", "official": "best test epoch", "seed": "as reported"}

ROWS = [
    {"source": source, "arch": arch, "data": "cifar10", "method": "apot", "bits": bits, "top1": top1,
     "selection": _SELECTION[source]}
    for source, table in _ACCURACY.items()
    for arch, values in table.items()
    for bits, top1 in zip((32, 4, 3, 2), values)
]
