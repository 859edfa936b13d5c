"""DeviceLoader: batches from uint8 images that live on the device (airbench style).

The split moves to the device once as uint8. Each training epoch draws all of its randomness up
front from a CPU `torch.Generator` seeded by (seed, epoch): a permutation, a crop offset and a flip
bit per image; the batches are then pure tensor ops on the device. The same seed therefore gives the
same batches on any device, and the state to resume is just the epoch counter.
"""

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .dataset import ImageData


def crop(x: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Crop each image of x (B x C x H x W) from its zero-padded copy at offsets (B x 2, row/col in 0..2*pad).

    Offset (pad, pad) returns the image unchanged; (0, 0) shifts it down and right by `pad`.
    """
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # B x H
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # B x W
    batch = torch.arange(b, device=x.device)[:, None, None]
    # advanced indices around the channel slice put their dims first: B x H x W x C
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror horizontally the images of x (B x C x H x W) where the boolean mask (B) is set."""
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


class DeviceLoader:
    """Iterate (images, labels) batches of one split: float32 normalized images, int64 labels, on device.

    `train` (default: split == "train") shuffles and applies the data set's crop/flip augmentation;
    the test split is never shuffled or augmented. `drop_last` defaults to `train`. Every `iter()`
    is one epoch; `state_dict()` taken between epochs restores the exact following epochs.
    `shard=(rank, world)` gives process `rank` its 1/world part of every batch (data-parallel training):
    all processes draw the same epoch randomness, so together they see exactly the unsharded batches.
    """

    def __init__(
        self,
        data: ImageData,
        split: str,
        batch_size: int,
        *,
        device: str | torch.device = "cpu",
        train: bool | None = None,
        seed: int = 0,
        drop_last: bool | None = None,
        channels_last: bool = False,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.train = split == "train" if train is None else train
        if self.train and split == "test":
            raise ValueError("the test split is never shuffled or augmented: use train=False")
        self.drop_last = self.train if drop_last is None else drop_last
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        self.rank, self.world = shard
        if batch_size % self.world or (self.world > 1 and not self.drop_last):
            raise ValueError(f"a sharded loader needs drop_last and a batch size ({batch_size}) divisible by "
                             f"the number of shards ({self.world})")
        self.device = torch.device(device)
        self.crop_pad, self.hflip = data.crop_pad, data.flip
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.x = getattr(data, f"{split}_x").to(self.device)
        self.y = getattr(data, f"{split}_y").to(self.device)
        self.mean = torch.tensor(data.mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(data.std, device=self.device).view(1, -1, 1, 1)
        if len(self) == 0:
            raise ValueError(f"batch_size {batch_size} with drop_last leaves no batch of {len(self.x)} images")

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images to floats (torch's default dtype, float32 unless set), normalized with the data set's mean
        and std."""
        return (x.to(torch.get_default_dtype()) / 255 - self.mean) / self.std

    def _epoch_randomness(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        n = len(self.x)
        perm = torch.randperm(n, generator=g)
        offsets = torch.randint(0, 2 * self.crop_pad + 1, (n, 2), generator=g)
        flips = torch.rand(n, generator=g) < 0.5
        return perm.to(self.device), offsets.to(self.device), flips.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.train:
            perm, offsets, flips = self._epoch_randomness()
            self.epoch += 1
        part = self.batch_size // self.world
        for i in range(0, len(self) * self.batch_size, self.batch_size):
            batch = slice(i + self.rank * part, i + (self.rank + 1) * part)
            if not self.train:
                x, y = self.normalize(self.x[batch]), self.y[batch]
            else:
                x, y = self.normalize(self.x[perm[batch]]), self.y[perm[batch]]
                if self.crop_pad:
                    x = crop(x, offsets[batch], self.crop_pad)
                if self.hflip:
                    x = flip(x, flips[batch])
            yield x.contiguous(memory_format=self.memory_format), y

    def state_dict(self) -> dict:
        """The shuffling/augmentation state: the seed and the number of training epochs started."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        if state["seed"] != self.seed:
            raise ValueError(f"state is for seed {state['seed']}, this loader has seed {self.seed}")
        self.epoch = state["epoch"]
