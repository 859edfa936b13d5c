"""SQ (Dong et al., BMVC 2017), TTQ (Zhu et al., ICLR 2017) and the seed project's CIFAR accuracies.

Sources (SOURCES names each exactly): the SQ paper's Table 1, as quoted by the seed project's report or recalled;
the TTQ paper's CIFAR-10 ResNet table, recalled; the seed project JonahMiller/Stochastic-Quantization (its
report.pdf Tables 1-5, its logs txt_results/final.txt and final2.txt). Every row has its source, how the number
was selected, and the table row it belongs to (``row``: FWN, BWN, SQ-BWN, TWN, SQ-TWN, TTQ, SQ-TTQ, INQ,
ELQ, SQ-ELQ). Test errors are converted to accuracies (100 - error). The seed's VGG-9 is its own network
(7 convs, FC 256/128, 10 weight layers), not the SQ paper's; its ResNet-20 is He et al.'s with option-A
shortcuts. Seed rows with ``granularity``, ``prob`` and ``select`` are its probability-function and
granularity studies: select "full_precision" is its ``--e_type default`` (draw the full-precision units with
p ~ f(e), as our select="full_precision"), "one_minus_inverse" its ``one_minus_invert`` (p = 1 - f(1/e)
normalized; not implemented here).
"""

SOURCES = {
    "sq-paper": "Dong et al., BMVC 2017, CIFAR-10 VGG-9 accuracies as quoted by the seed project's report "
                "(JonahMiller/Stochastic-Quantization report.pdf Table 2); not checked against the paper",
    "sq-paper-recalled": "Dong et al., BMVC 2017, Table 1 (test error %), values recalled from the paper, PDF not "
                         "re-read, unverified; the same recollection gives VGG-9 SQ-BWN 9.40 %, which conflicts "
                         "with the seed's quote (9.13 %)",
    "ttq-paper": "Zhu, Han, Mao, Dally, ICLR 2017, CIFAR-10 ResNet table (test error %), values recalled from the "
                 "paper, PDF not re-read, unverified; the ResNet-32/44/56 gains match the paper's abstract",
    "seed": "JonahMiller/Stochastic-Quantization txt_results/final.txt (commit 531ced5^) = report Table 1; "
            "90 epochs, SQ ratio raised within one run, no augmentation, 1 seed",
    "seed-study": "JonahMiller/Stochastic-Quantization txt_results/final.txt = report Table 3 (SQ probability "
                  "function x e_type x granularity), 1 seed each",
    "seed-inq": "JonahMiller/Stochastic-Quantization txt_results/final2.txt = report Tables 4 and 5 (3-bit INQ, "
                "ELQ, SQ-ELQ from the seed's FP models, 4 epochs per step), 1 seed each",
}

_BITS = {"FWN": 32, "BWN": 1, "SQ-BWN": 1, "TWN": 2, "SQ-TWN": 2, "TTQ": 2, "SQ-TTQ": 2, "INQ": 3, "ELQ": 2,
         "SQ-ELQ": 2}
_METHOD = {"FWN": "fp", "INQ": "inq", "ELQ": "elq", "SQ-ELQ": "elq"}


def _row(source: str, arch: str, row: str, top1: float, selection: str, data: str = "cifar10", **extra) -> dict:
    return {"source": source, "arch": arch, "data": data, "row": row,
            "method": _METHOD.get(row, row.removeprefix("SQ-").lower()), "sq": row.startswith("SQ-"),
            "bits": _BITS[row], "top1": top1, "selection": selection, **extra}


_TABLE = ("FWN", "BWN", "SQ-BWN", "TWN", "SQ-TWN")
_SEED_TABLE = (*_TABLE, "TTQ", "SQ-TTQ")
_RECALLED_ERRORS = {  # (arch, data): FWN, BWN, SQ-BWN, TWN, SQ-TWN test error %
    ("resnet56", "cifar10"): (6.69, 16.42, 7.15, 7.64, 6.20),
    ("vgg9", "cifar100"): (30.68, 37.68, 35.25, 34.80, 34.24),
    ("resnet56", "cifar100"): (29.49, 35.01, 31.56, 32.09, 28.90),
}
_TTQ_ERRORS = {"resnet20": (8.23, 8.87), "resnet32": (7.67, 7.63), "resnet44": (7.18, 7.02), "resnet56": (6.80, 6.44)}
_SEED = {"vgg9": (87.76, 83.72, 85.42, 84.72, 86.38, 76.88, 81.21),
         "resnet20": (85.31, 82.70, 83.48, 83.69, 84.24, 81.99, 83.47)}
# seed Table 3: (arch, row, select) -> {prob: (layer, filter)}
_SEED_STUDY = {
    ("vgg9", "SQ-BWN", "full_precision"): {"constant": (84.81, 85.16), "linear": (85.15, 85.85),
                                           "sigmoid": (85.38, 85.24), "softmax": (84.72, 85.81)},
    ("vgg9", "SQ-TWN", "full_precision"): {"constant": (86.47, 85.67), "linear": (86.84, 85.93),
                                           "sigmoid": (86.80, 85.89), "softmax": (85.56, 85.46)},
    ("resnet20", "SQ-BWN", "full_precision"): {"constant": (83.26, 83.08), "linear": (83.18, 82.79),
                                               "sigmoid": (83.42, 83.95), "softmax": (83.56, 83.12)},
    ("resnet20", "SQ-TWN", "full_precision"): {"constant": (84.47, 83.86), "linear": (84.35, 84.58),
                                               "sigmoid": (83.29, 84.97), "softmax": (85.14, 84.44)},
    ("vgg9", "SQ-BWN", "one_minus_inverse"): {"constant": (85.08, 85.46), "linear": (84.78, 85.62),
                                              "sigmoid": (85.80, 85.59), "softmax": (85.41, 85.51)},
    ("vgg9", "SQ-TWN", "one_minus_inverse"): {"constant": (86.56, 85.76), "linear": (86.70, 86.26),
                                              "sigmoid": (87.09, 86.18), "softmax": (87.16, 86.04)},
    ("resnet20", "SQ-BWN", "one_minus_inverse"): {"constant": (83.31, 83.14), "linear": (83.09, 82.16),
                                                  "sigmoid": (84.38, 83.82), "softmax": (82.93, 83.73)},
    ("resnet20", "SQ-TWN", "one_minus_inverse"): {"constant": (84.47, 83.97), "linear": (83.92, 84.81),
                                                  "sigmoid": (84.23, 83.96), "softmax": (84.27, 84.41)},
}
# seed Table 5, VGG-9 SQ-ELQ: select -> {prob: (layer, filter)}
_SEED_SQ_ELQ = {
    "full_precision": {"constant": (85.88, 86.47), "linear": (86.66, 86.23), "sigmoid": (86.30, 86.19),
                       "softmax": (86.37, 86.38)},
    "one_minus_inverse": {"constant": (86.29, 86.46), "linear": (86.35, 86.06), "sigmoid": (86.05, 86.39),
                          "softmax": (86.01, 86.14)},
}

ROWS = [
    *[_row("sq-paper", "vgg9", row, top1, "as published")
      for row, top1 in zip(_TABLE, (91.00, 89.33, 90.87, 90.13, 91.63))],
    *[_row("sq-paper-recalled", arch, row, round(100 - error, 2), "as published (recalled)", data)
      for (arch, data), errors in _RECALLED_ERRORS.items() for row, error in zip(_TABLE, errors)],
    *[_row("ttq-paper", arch, row, round(100 - error, 2), "as published (recalled)")
      for arch, errors in _TTQ_ERRORS.items() for row, error in zip(("FWN", "TTQ"), errors)],
    *[_row("seed", arch, row, top1, "best test epoch") for arch, values in _SEED.items()
      for row, top1 in zip(_SEED_TABLE, values)],
    *[_row("seed-study", arch, row, top1, "best test epoch", granularity=granularity, prob=prob, select=select)
      for (arch, row, select), probs in _SEED_STUDY.items() for prob, pair in probs.items()
      for granularity, top1 in zip(("layer", "filter"), pair)],
    _row("seed-inq", "vgg9", "INQ", 78.04, "last epoch"),
    _row("seed-inq", "resnet20", "INQ", 74.90, "last epoch"),
    _row("seed-inq", "vgg9", "ELQ", 83.80, "last epoch (after the final freeze)"),
    _row("seed-inq", "resnet20", "ELQ", 67.07, "last epoch (after the final freeze)"),
    *[_row("seed-inq", "vgg9", "SQ-ELQ", top1, "last epoch", granularity=granularity, prob=prob, select=select)
      for select, probs in _SEED_SQ_ELQ.items() for prob, pair in probs.items()
      for granularity, top1 in zip(("layer", "filter"), pair)],
]
