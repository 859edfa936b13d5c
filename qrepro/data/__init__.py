"""Data sets by name, as ImageData, and DeviceLoader to iterate them on a device.

    data = load("digits")                      # embedded, the default for tests and CI
    data = load("cifar10-jpeg")                # the JPEG copy of CIFAR-10, at its default root
    for x, y in DeviceLoader(data, "train", 512, device="cuda"): ...

Default roots: cifar10 from $QREPRO_DATA or ./data/cifar10; cifar10-jpeg from $QREPRO_CIFAR10_JPEG or
<repository>/data/cifar10-jpeg (git-ignored: put or symlink the ImageFolder tree there); imagefolder needs a
root; digits takes none. A root passed explicitly always wins. The root only says where to read: records
identify their data by the fingerprint of the decoded pixels and labels, never by the path.

Any name with the suffix "-nocrop" ("cifar10-nocrop") is that data set trained without its random-crop
augmentation (flips as the data set has them), as papers whose code only mirrors train; the suffix stays
in the name, so such runs are labelled as what they are.
"""

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .cifar10 import load_cifar10, load_cifar10_jpeg
from .dataset import AUGMENTATION, ImageData
from .digits import load_digits
from .imagefolder import load_imagefolder
from .loader import DeviceLoader

__all__ = ["DeviceLoader", "ImageData", "augmentation", "available", "load"]

DEFAULT_CIFAR10_JPEG = Path(__file__).resolve().parents[2] / "data" / "cifar10-jpeg"


def _cifar10_root(root: Path | None) -> Path:
    return root or Path(os.environ.get("QREPRO_DATA") or "data/cifar10")


def _cifar10_jpeg_root(root: Path | None) -> Path:
    """`root` when given, else $QREPRO_CIFAR10_JPEG when set, else DEFAULT_CIFAR10_JPEG when it exists (a folder
    or a symlink to one); otherwise an error that says how to provide the data."""
    if root:
        return root
    if os.environ.get("QREPRO_CIFAR10_JPEG"):
        env_root = Path(os.environ["QREPRO_CIFAR10_JPEG"]).expanduser()
        if not env_root.is_dir():
            raise FileNotFoundError(
                f"cifar10-jpeg: QREPRO_CIFAR10_JPEG={os.environ['QREPRO_CIFAR10_JPEG']} is not a folder; point it at "
                "the ImageFolder tree (train/<class>/*.jpg, test/<class>/*.jpg), or unset it to use the default "
                f"{DEFAULT_CIFAR10_JPEG}"
            )
        return env_root
    if DEFAULT_CIFAR10_JPEG.is_dir():
        return DEFAULT_CIFAR10_JPEG
    raise FileNotFoundError(
        "cifar10-jpeg: no root given, QREPRO_CIFAR10_JPEG is not set and the default "
        f"{DEFAULT_CIFAR10_JPEG} does not exist. Either set QREPRO_CIFAR10_JPEG=/path/to/cifar10-jpeg, or put "
        f"(or symlink) the ImageFolder tree (train/<class>/*.jpg, test/<class>/*.jpg) at {DEFAULT_CIFAR10_JPEG} "
        "(git-ignored), or pass the root explicitly (root= / --data-root / -p data_root). The official CIFAR-10 "
        "is another data set: --data cifar10, read through torchvision (python -m qrepro data download cifar10 "
        "--root data/cifar10)."
    )


def _imagefolder(root: Path | None) -> ImageData:
    if root is None:
        raise ValueError("load('imagefolder') needs root=<folder with train/ and test/>")
    return load_imagefolder(root)


_LOADERS: dict[str, Callable[[Path | None], ImageData]] = {
    "digits": lambda root: load_digits(),
    "cifar10": lambda root: load_cifar10(_cifar10_root(root)),
    "cifar10-jpeg": lambda root: load_cifar10_jpeg(_cifar10_jpeg_root(root)),
    "imagefolder": _imagefolder,
}


def available() -> list[str]:
    """Names that `load` accepts."""
    return list(_LOADERS)


NO_CROP = "-nocrop"


def augmentation(name: str) -> tuple[int, bool]:
    """(random-crop padding, horizontal flip) that data set ``name`` trains with, as ``load`` would build it; a
    data set without a family of its own (imagefolder, a reader's own) as CIFAR-10's, the default of
    load_imagefolder."""
    base = name.removesuffix(NO_CROP)
    pad, flip = AUGMENTATION["digits" if base == "digits" else "cifar10"]
    return (0 if base != name else pad), flip


def load(name: str, root: str | Path | None = None) -> ImageData:
    """Load the data set `name` (see `available()`, each also with the suffix "-nocrop"), from `root` or its
    default location."""
    base = name.removesuffix(NO_CROP)
    if base not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(_LOADERS)} "
                         f"(each also as <name>{NO_CROP}: without random-crop augmentation)")
    data = _LOADERS[base](None if root is None else Path(root))
    return replace(data, name=name, crop_pad=0) if base != name else data
