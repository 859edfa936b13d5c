"""ImageData: a whole image-classification data set held in memory as uint8 tensors.

Every loader in this package returns one. Images are N x C x H x W uint8 on the CPU; the
per-channel mean and std (in [0, 1] pixel units) come from the training split and are what
`DeviceLoader` normalizes with. `crop_pad` and `flip` describe the data set's standard training
augmentation, so a run config names a data set and gets its augmentation with it.
"""

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property

import torch


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of uint8 images N x C x H x W, in [0, 1] units.

    Exact, from each channel's histogram of the 256 pixel values.
    """
    hist = torch.stack([torch.bincount(x[:, c].flatten(), minlength=256) for c in range(x.shape[1])]).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = hist.sum(dim=1)
    mean = hist @ values / n
    var = hist @ values.square() / n - mean.square()
    return tuple(mean.tolist()), tuple(var.clamp(min=0).sqrt().tolist())


# The standard training augmentation of each data set family, (random-crop padding, horizontal flip): the loaders
# build their data with it, and the behaviour fingerprint trains its synthetic images with it.
AUGMENTATION = {"digits": (1, False), "cifar10": (4, True)}


@dataclass(frozen=True, eq=False)
class ImageData:
    """A data set's train and test splits as uint8 tensors, with its normalization and augmentation."""

    name: str  # "digits", "cifar10", "cifar10-jpeg", "imagefolder"; "-valNN" added by split_validation
    train_x: torch.Tensor  # uint8, N x C x H x W (CPU)
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, in [0, 1] pixel units, computed from the training split
    std: tuple[float, ...]
    crop_pad: int  # random-crop padding used by training augmentation (CIFAR 4, digits 1)
    flip: bool  # horizontal flip augmentation (CIFAR True; digits False)

    def __post_init__(self) -> None:
        for x, y, split in ((self.train_x, self.train_y, "train"), (self.test_x, self.test_y, "test")):
            if x.dtype != torch.uint8 or x.dim() != 4:
                raise ValueError(f"{split}_x must be uint8 N x C x H x W, got {x.dtype} {tuple(x.shape)}")
            if y.dtype != torch.int64 or y.shape != (len(x),):
                raise ValueError(f"{split}_y must be int64 of length {len(x)}, got {y.dtype} {tuple(y.shape)}")
            if len(y) and not 0 <= int(y.min()) <= int(y.max()) < len(self.classes):
                raise ValueError(f"{split}_y has labels outside 0..{len(self.classes) - 1}")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            shapes = tuple(self.train_x.shape[1:]), tuple(self.test_x.shape[1:])
            raise ValueError(f"train images are {shapes[0]} but test images {shapes[1]}")
        if self.train_x.shape[2] != self.train_x.shape[3]:
            raise ValueError(f"images must be square, got {tuple(self.train_x.shape[2:])}")
        if not len(self.mean) == len(self.std) == self.in_channels:
            raise ValueError(f"mean/std need {self.in_channels} channels, got {len(self.mean)}/{len(self.std)}")

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (16 hex digits) of what a run sees: the decoded pixels and labels of both splits, the class
        names and the augmentation; not the path, so the same data anywhere has the same fingerprint."""
        digest = hashlib.sha256(repr((self.classes, self.crop_pad, self.flip)).encode())
        for tensor in (self.train_x, self.train_y, self.test_x, self.test_y):
            digest.update(repr(tuple(tensor.shape)).encode())
            digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        """Side length of the (square) images."""
        return self.train_x.shape[2]

    def split_validation(self, fraction: float, seed: int) -> "ImageData":
        """Hold out a random `fraction` of the training split as the new test split.

        Deterministic for a seed. The real test split is dropped, mean/std are recomputed from the
        remaining training images, and the name gets a suffix ("digits-val10" for 0.1).
        """
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        n = len(self.train_x)
        n_val = round(n * fraction)
        if not 0 < n_val < n:
            raise ValueError(f"fraction {fraction} of {n} training images leaves an empty split")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        val, train = perm[:n_val].sort().values, perm[n_val:].sort().values
        mean, std = channel_stats(self.train_x[train])
        return replace(
            self,
            name=f"{self.name}-val{fraction * 100:g}",
            train_x=self.train_x[train],
            train_y=self.train_y[train],
            test_x=self.train_x[val],
            test_y=self.train_y[val],
            mean=mean,
            std=std,
        )
