"""Any ImageFolder tree (`root/train/<class>/<image>`, `root/test/<class>/<image>`) as ImageData.

The images are decoded once into uint8 tensors and cached in
`${XDG_CACHE_HOME:-~/.cache}/qrepro/<name>-<hash>.pt`. The hash covers the resolved root and every
file's relative path, size and mtime, so an edited tree is decoded again. Labels are the indices of
the sorted class folders, as in torchvision's ImageFolder. All images must share one size.
"""

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..atomic import save_tensors
from ..cache import cache_dir
from .dataset import ImageData, channel_stats

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
CACHE_VERSION = 1  # bump when the cached layout changes
LAYOUT = "<root>/train/<class>/<image> and <root>/test/<class>/<image>"


def decode(path: str, mode: str) -> torch.Tensor:
    """One image file as uint8 C x H x W, converted to the PIL mode ("RGB" or "L"); a damaged or truncated file
    is an error that names it."""
    try:
        with Image.open(path) as img:
            return torch.from_numpy(np.array(img.convert(mode))).view(img.height, img.width, -1).permute(2, 0, 1)
    except (OSError, SyntaxError, ValueError) as err:  # PIL's errors for a damaged or truncated image
        raise ValueError(f"{path} is not a readable image ({err}): replace or remove it, then run again") from err


def _list_split(folder: Path, classes: tuple[str, ...]) -> list[tuple[os.DirEntry, int]]:
    files = []
    for label, cls in enumerate(classes):
        images = (e for e in os.scandir(folder / cls) if e.name.lower().endswith(EXTENSIONS))
        entries = sorted(images, key=lambda e: e.name)
        if not entries:
            raise FileNotFoundError(f"no images ({', '.join(EXTENSIONS)}) in {folder / cls}")
        files += [(e, label) for e in entries]
    return files


def _list_tree(root: Path) -> tuple[tuple[str, ...], dict[str, list[tuple[os.DirEntry, int]]]]:
    if not root.is_dir():
        raise FileNotFoundError(f"no ImageFolder tree at {root}: expected {LAYOUT}")
    missing = [s for s in ("train", "test") if not (root / s).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root} has no {' or '.join(s + '/' for s in missing)} folder: expected {LAYOUT}")
    classes = tuple(sorted(e.name for e in os.scandir(root / "train") if e.is_dir()))
    test_classes = tuple(sorted(e.name for e in os.scandir(root / "test") if e.is_dir()))
    if not classes or classes != test_classes:
        raise ValueError(
            f"class folders of {root}/train {list(classes)} and {root}/test {list(test_classes)} differ or are empty"
        )
    if len(classes) < 2:
        raise ValueError(f"{root}/train has {len(classes)} class folder ({list(classes)}): a classifier needs at "
                         "least two, and one class would score 100 % without learning anything")
    return classes, {split: _list_split(root / split, classes) for split in ("train", "test")}


def _fingerprint(root: Path, mode: str, files: dict[str, list[tuple[os.DirEntry, int]]]) -> str:
    h = hashlib.sha256(f"{CACHE_VERSION}\0{root}\0{mode}".encode())
    for split, entries in files.items():
        for entry, label in entries:
            st = entry.stat()
            h.update(f"\0{split}/{label}/{entry.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _decode_split(entries: list[tuple[os.DirEntry, int]], mode: str, desc: str) -> tuple[torch.Tensor, torch.Tensor]:
    first = entries[0][0].path
    shape = decode(first, mode).shape
    out = torch.empty((len(entries), *shape), dtype=torch.uint8)
    for i, (entry, _) in enumerate(tqdm(entries, desc=desc, unit="img")):
        img = decode(entry.path, mode)
        if img.shape != shape:
            raise ValueError(
                f"{entry.path} is {tuple(img.shape)} (C, H, W) but {first} is {tuple(shape)}: "
                "all images of an ImageFolder tree must share one size; resize the tree first"
            )
        out[i] = img
    return out, torch.tensor([label for _, label in entries], dtype=torch.int64)


def _read_cache(path: Path) -> dict | None:
    """The decoded tree cached at ``path``; None when there is none, or when it is damaged (then it is deleted,
    with a notice naming it, and decoded again)."""
    if not path.exists():
        return None
    try:
        cached = torch.load(path, weights_only=True)
        if not {"train_x", "train_y", "test_x", "test_y", "mean", "std"} <= set(cached):
            raise ValueError("keys missing")
        return cached
    except Exception as err:  # torch raises many kinds for a damaged file
        print(f"the decode cache {path} is damaged ({type(err).__name__}): deleted, decoding again", file=sys.stderr)
        path.unlink(missing_ok=True)
        return None


def load_imagefolder(
    root: str | Path,
    name: str = "imagefolder",
    *,
    expected_classes: tuple[str, ...] | None = None,
    crop_pad: int = 4,
    flip: bool = True,
    mode: str = "RGB",
) -> ImageData:
    """Load an ImageFolder tree with train/ and test/ splits, decoding it only on the first call.

    `expected_classes`, when given, must equal the sorted class folders (checked before decoding).
    `mode` is the PIL mode images are converted to: "RGB" or "L" (grey). `crop_pad` and `flip` are
    the training augmentation recorded in the result (CIFAR-style defaults).
    """
    root = Path(root).expanduser().resolve()
    classes, files = _list_tree(root)
    if expected_classes is not None and classes != tuple(expected_classes):
        raise ValueError(
            f"{name} expects the class folders {list(expected_classes)} in {root}/train, found {list(classes)}"
        )
    path = cache_dir() / f"{name}-{_fingerprint(root, mode, files)}.pt"
    cached = _read_cache(path)
    if cached is None:
        train_x, train_y = _decode_split(files["train"], mode, f"decoding {name} train")
        test_x, test_y = _decode_split(files["test"], mode, f"decoding {name} test")
        if train_x.shape[1:] != test_x.shape[1:]:
            shapes = tuple(train_x.shape[1:]), tuple(test_x.shape[1:])
            raise ValueError(f"{root}/train images are {shapes[0]} but its test images {shapes[1]}")
        mean, std = channel_stats(train_x)
        cached = dict(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y, mean=mean, std=std)
        save_tensors(cached, path)
    train_x, train_y, test_x, test_y = (cached[k] for k in ("train_x", "train_y", "test_x", "test_y"))
    mean, std = tuple(cached["mean"]), tuple(cached["std"])
    return ImageData(name, train_x, train_y, test_x, test_y, classes, mean, std, crop_pad, flip)
