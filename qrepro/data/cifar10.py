"""CIFAR-10: the official arrays through torchvision, and the JPEG re-encoding (`cifar10-jpeg`).

`load_cifar10(root)` reads torchvision's `<root>/cifar-10-batches-py` and never downloads;
`download(root)` fetches it (the CLI's `python -m qrepro data download cifar10`).
`load_cifar10_jpeg(root)` reads an ImageFolder copy whose pixels are a JPEG re-encoding, so its
results are a different data set and are always labelled `cifar10-jpeg`, never `cifar10`.
"""

from pathlib import Path

import torch

from .dataset import AUGMENTATION, ImageData, channel_stats
from .imagefolder import load_imagefolder

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def download(root: str | Path) -> None:
    """Download the official CIFAR-10 (about 170 MB) into `root` with torchvision. Needs internet."""
    import torchvision  # here, not at the top: it adds seconds to every `import qrepro.data`

    for train in (True, False):
        torchvision.datasets.CIFAR10(str(root), train=train, download=True)


def _split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    import torchvision

    try:
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=False)
    except RuntimeError as e:  # torchvision's "Dataset not found or corrupted"
        raise FileNotFoundError(
            f"CIFAR-10 not found (or corrupted) under {root}: torchvision expects "
            f"{root / 'cifar-10-batches-py'}. Fetch it (needs internet) with:\n"
            f"    python -m qrepro data download cifar10 --root {root}\n"
            f"or set QREPRO_DATA to a folder that has it. Offline, the JPEG copy loads as 'cifar10-jpeg'."
        ) from e
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(ds.targets, dtype=torch.int64), tuple(ds.classes)


def load_cifar10(root: str | Path) -> ImageData:
    """The official CIFAR-10 (50000 train / 10000 test, 3 x 32 x 32) from a torchvision root."""
    root = Path(root).expanduser().resolve()
    train_x, train_y, classes = _split(root, train=True)
    test_x, test_y, _ = _split(root, train=False)
    mean, std = channel_stats(train_x)
    crop_pad, flip = AUGMENTATION["cifar10"]
    return ImageData("cifar10", train_x, train_y, test_x, test_y, classes, mean, std, crop_pad=crop_pad, flip=flip)


def load_cifar10_jpeg(root: str | Path) -> ImageData:
    """CIFAR-10 re-encoded as JPEG in an ImageFolder tree; its class folders must be CLASSES."""
    crop_pad, flip = AUGMENTATION["cifar10"]  # the same images, re-encoded: the same augmentation
    return load_imagefolder(root, name="cifar10-jpeg", expected_classes=CLASSES, crop_pad=crop_pad, flip=flip)
