"""GPFQ published numbers (accuracy %), read from the logs named in SOURCES: those of the official code of
Lybrand & Saab, JMLR 22 (2021) (elybrand/quantized_neural_networks), of Zhang, Zhou & Saab, SIAM J. Math. Data
Sci. (2023) (YixuanSeanZhou/Quantized_Neural_Nets), and of the seed project (sicily496/DSC180A-QuantizedNNs).
None is a paper table read from the PDF: they are the logged runs of the seed project and of the official code.
Columns beyond the common ones: top5, scalar (C), calibration (images per layer), sparsity (share of zero weights
and biases, the official ``eval_sparsity``), note.
"""
from __future__ import annotations

import math

SOURCES = {
    "seed-bits": "sicily496/DSC180A-QuantizedNNs logs/Quantization_Log_Bit.csv (commit 208352f): ResNet-18 "
                 "(3x3 stem, max-pool kept) on CIFAR-10, C = 1.16, 256 images per layer, official code; rows are "
                 "bits 1..8 in order (the file has no bits column)",
    "seed-scalar": "sicily496/DSC180A-QuantizedNNs logs/Quantization_Log_Scalar.csv (commit 8880b8c): the same "
                   "model at 4 bits, 256 images per layer, one row per logged run",
    "jmlr": "elybrand/quantized_neural_networks model_metrics/cifar10_model_metrics_2020-08-10_*.csv (Lybrand & "
            "Saab, JMLR 2021 code): VGG-like CNN, analog 89.22 %, 5000 training images, alphabet "
            "linspace(-1, 1, 2^b) x C median|W|; GPFQ column sd_test_acc, MSQ column msq_test_acc",
    "official-imagenet": "YixuanSeanZhou/Quantized_Neural_Nets visualization/overall_log.csv and "
                         "logs/Resnet18_2048_Quantization_Log.csv (commit 023d8fb): ImageNet, pre-2023 alphabet "
                         "linspace(-1, 1, 2^b) plus 0 times C R, retain rate 0.25, seed 0",
}

_SEED_FP = (92.59, 99.74)
# bits 1..8: (top-1, top-5, sparsity)
_SEED_BITS = [(41.44, 91.31, 0.678), (87.73, 99.24, 0.7207), (91.17, 99.70, 0.6624), (91.89, 99.68, 0.556),
              (91.60, 99.70, 0.4733), (91.80, 99.72, 0.4201), (91.72, 99.68, 0.3895), (92.03, 99.68, 0.3744)]
# C: (top-1, top-5, sparsity), in the order of the log; C = 1.00 and 1.50 were logged twice
_SEED_SCALARS = [
    (1.16, 91.72, 99.72, 0.5581), (0.01, 10.00, 50.00, 0.5691), (1.5, 92.09, 99.68, 0.6085),
    (9457.575, 10.00, 50.00, 0.9986), (1.0, 91.04, 99.53, 0.5207), (1.26, 91.95, 99.62, 0.5751),
    (1.36, 91.94, 99.71, 0.5912), (1.46, 91.86, 99.70, 0.6055), (1.56, 92.02, 99.63, 0.6151),
    (1.66, 91.85, 99.72, 0.6242), (1.76, 91.91, 99.68, 0.6374), (1.86, 91.82, 99.67, 0.6431),
    (2.16, 91.79, 99.63, 0.6663), (3.16, 90.71, 99.52, 0.7123), (1.0, 91.07, 99.61, 0.5221),
    (1.05, 91.00, 99.70, 0.5327), (1.1, 91.57, 99.65, 0.5465), (1.15, 91.67, 99.64, 0.5587),
    (1.2, 91.77, 99.70, 0.5646), (1.25, 91.93, 99.69, 0.5775), (1.3, 91.93, 99.73, 0.5833),
    (1.35, 92.15, 99.72, 0.5914), (1.4, 91.85, 99.69, 0.5994), (1.45, 91.80, 99.72, 0.6038),
    (1.5, 92.12, 99.67, 0.6096), (1.55, 92.14, 99.71, 0.6129), (1.6, 92.01, 99.73, 0.6208),
    (1.65, 91.73, 99.66, 0.6239), (1.7, 91.80, 99.71, 0.6286), (1.75, 92.16, 99.70, 0.6345),
    (1.8, 91.85, 99.63, 0.6377), (1.85, 91.86, 99.74, 0.6408), (1.9, 91.81, 99.74, 0.646),
    (1.95, 91.85, 99.64, 0.6507), (2.0, 91.85, 99.65, 0.6528), (1.72, 91.80, 99.69, 0.6311),
    (1.73, 91.81, 99.66, 0.6312), (1.74, 91.91, 99.68, 0.632), (1.34, 92.03, 99.67, 0.5884),
    (1.33, 91.94, 99.66, 0.5852), (1.32, 92.01, 99.69, 0.5863), (1.37, 92.18, 99.70, 0.5938),
]
SEED_BEST_SCALAR = 1.37  # the seed's finding at 4 bits (its scalar_selection notebook), against the default 1.16

# JMLR: bits -> C = 2..6 -> (GPFQ, MSQ) test accuracy; "bits" log2(3) is the ternary alphabet {-1, 0, 1}
_JMLR_FP = 89.22
_JMLR = {
    math.log2(3): [(74.87, 13.47), (73.50, 14.64), (69.19, 9.91), (56.27, 10.00), (35.15, 10.00)],
    2: [(75.22, 22.09), (80.36, 28.00), (74.89, 17.42), (67.48, 18.35), (53.65, 13.90)],
    3: [(79.42, 41.73), (86.70, 37.54), (87.10, 50.14), (85.67, 56.52), (86.00, 53.60)],
    4: [(81.24, 45.25), (87.78, 77.76), (88.79, 84.43), (88.88, 82.91), (88.10, 78.31)],
}

# ImageNet, official logs: ResNet-18 (the chapter's model family) per bits and images per layer, C = 1.16
_IMAGENET_FP = {"alexnet": (56.522, 79.066), "vgg16": (71.592, 90.382), "resnet18": (69.758, 89.078),
                "resnet50": (76.13, 92.862), "googlenet": (69.778, 89.53)}
_IMAGENET_RESNET18 = {  # bits -> [(images per layer, top-1, top-5)]
    3: [(32, 3.378, 11.442), (64, 20.964, 45.546), (128, 46.626, 73.714), (256, 58.942, 82.74),
        (512, 62.94, 85.352), (1024, 65.076, 86.474), (2048, 65.814, 87.08)],
    4: [(32, 19.518, 43.646), (64, 53.028, 78.484), (128, 62.578, 84.934), (256, 65.882, 86.9),
        (512, 67.128, 87.624), (1024, 67.702, 88.088), (2048, 68.126, 88.104)],
    5: [(32, 32.18, 59.888), (64, 60.788, 83.908), (128, 66.032, 87.156), (256, 67.73, 87.962),
        (512, 68.476, 88.336), (1024, 68.612, 88.528), (2048, 69.044, 88.636)],
}
# other models at their largest logged calibration size: (C, images per layer, {bits: (top-1, top-5)})
_IMAGENET_OTHERS = {
    "alexnet": (1.10, 2048, {3: (53.226, 76.95), 4: (55.152, 78.188), 5: (55.668, 78.736)}),
    "vgg16": (0.975, 512, {3: (69.666, 89.326), 4: (70.70, 89.964), 5: (70.964, 90.06)}),
    "resnet50": (1.81, 512, {3: (68.512, 89.182), 4: (73.742, 91.836), 5: (75.158, 92.474)}),
    "googlenet": (1.41, 1024, {3: (58.57, 82.562), 4: (66.494, 87.62), 5: (68.518, 88.746)}),
}


def _row(source: str, arch: str, data: str, method: str, bits: float, top1: float, **extra: object) -> dict:
    return {"source": source, "arch": arch, "data": data, "method": method, "bits": bits, "top1": top1, **extra}


ROWS = [
    _row("seed-bits", "resnet18", "cifar10", "fp", 32, _SEED_FP[0], top5=_SEED_FP[1]),
    *[_row("seed-bits", "resnet18", "cifar10", "gpfq", b, t1, top5=t5, sparsity=sp, scalar=1.16, calibration=256)
      for b, (t1, t5, sp) in enumerate(_SEED_BITS, start=1)],
    _row("seed-scalar", "resnet18", "cifar10", "fp", 32, _SEED_FP[0], top5=_SEED_FP[1]),
    *[_row("seed-scalar", "resnet18", "cifar10", "gpfq", 4, t1, top5=t5, sparsity=sp, scalar=c, calibration=256,
           note="degenerate scalar" if c < 0.1 or c > 100 else "")
      for c, t1, t5, sp in _SEED_SCALARS],
    _row("jmlr", "jmlr-cnn", "cifar10", "fp", 32, _JMLR_FP),
    *[_row("jmlr", "jmlr-cnn", "cifar10", method, bits, acc, scalar=float(c), calibration=5000,
           note="ternary {-1, 0, 1}" if bits < 2 else "")
      for bits, cells in _JMLR.items() for c, pair in zip(range(2, 7), cells)
      for method, acc in zip(("gpfq", "msq"), pair)],
    *[_row("official-imagenet", arch, "imagenet", "fp", 32, t1, top5=t5) for arch, (t1, t5) in _IMAGENET_FP.items()],
    *[_row("official-imagenet", "resnet18", "imagenet", "gpfq", b, t1, top5=t5, scalar=1.16, calibration=n)
      for b, cells in _IMAGENET_RESNET18.items() for n, t1, t5 in cells],
    *[_row("official-imagenet", arch, "imagenet", "gpfq", b, t1, top5=t5, scalar=c, calibration=n)
      for arch, (c, n, cells) in _IMAGENET_OTHERS.items() for b, (t1, t5) in cells.items()],
]
