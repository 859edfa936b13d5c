"""What a training epoch costs beyond its optimizer steps, and what channels_last and torch.compile change.

An epoch of ``fit`` is its steps plus what surrounds them: the device-resident loader's augmentation (random crop
by advanced indexing, flip), the per-epoch evaluation of the test split, the divergence checks and the end-of-epoch
hooks. Here ``fit`` runs two epochs on random CIFAR-shaped images (``TRAIN_BATCHES`` batches of 128, a test split
one fifth of the training split, as CIFAR-10's 10,000 to 50,000) and the second epoch's wall time (after warm-up
and, for torch.compile, after compilation) is set against its steps alone, timed with the same model, data layout
and compile setting (target: everything but the steps <= 15 % of the epoch). Each model runs eager (NCHW),
channels_last, and compiled (torch.compile with inductor; the compile time of the first epoch is reported too), in the
precision runs on images train in (bf16 autocast where the device has native bf16); where that is bf16, channels_last
also runs in fp32 beside it, so that one record holds both precisions' epochs.
"""
from __future__ import annotations

import torch

from ..config import Schedule, TrainConfig
from ..data import DeviceLoader, ImageData
from ..profiles import precision_for
from ..runs.build import trainable
from ..train import fit, train_step
from .measure import timed

BATCH, SIZE, TRAIN_BATCHES = 128, 32, 20
CASES = [("fp", "fp", 32), ("apot", "apot", 4), ("dorefa", "dorefa", 4)]  # (label, method, bits) on ResNet-20
VARIANTS = {"eager": {}, "channels_last": {"channels_last": True}, "compile": {"compile": True}}
FP32_VARIANT = ("channels_last, fp32", {"channels_last": True, "amp": False})  # beside bf16, where bf16 is native


def random_images() -> ImageData:
    g = torch.Generator().manual_seed(0)
    train, test = BATCH * TRAIN_BATCHES, BATCH * TRAIN_BATCHES // 5
    x = torch.randint(0, 256, (train + test, 3, SIZE, SIZE), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (train + test,), generator=g)
    return ImageData(name="random", train_x=x[:train], train_y=y[:train], test_x=x[train:], test_y=y[train:],
                     classes=tuple("0123456789"), mean=(0.5,) * 3, std=(0.25,) * 3, crop_pad=4, flip=True)


def measure(method: str, bits: int, variant: dict, data: ImageData, device: torch.device) -> dict:
    """Seconds of fit's second epoch, and of its steps alone, for one method and variant."""
    config = TrainConfig(chapter="bench", data="random", arch="resnet20", method=method, bits=bits,
                         schedule=Schedule(epochs=2, batch_size=BATCH, lr=0.01, lr_schedule="constant"))
    torch.manual_seed(0)
    model, objective, _ = trainable(config, data)
    variant = dict(variant)
    amp = variant.pop("amp", precision_for("cifar10", device.type) == "bf16")  # default: as runs on images train
    history = fit(model, data, config.schedule, device=device, objective=objective, progress=False, amp=amp,
                  **variant)
    first, epoch = history[0]["seconds"], history[1]["seconds"]

    channels_last = variant.get("channels_last", False)
    trained = torch.compile(model) if variant.get("compile") else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DeviceLoader(data, "train", BATCH, device=device, channels_last=channels_last)
    batches = list(loader)
    for x, y in batches[:3]:
        train_step(trained, objective, optimizer, x, y, device, amp)
    steps = sum(timed(lambda x=x, y=y: train_step(trained, objective, optimizer, x, y, device, amp), device)
                for x, y in batches)
    return {"precision": "bf16" if amp else "fp32", "epoch_s": round(epoch, 2), "steps_s": round(steps, 2),
            "first_epoch_s": round(first, 2),
            "outside_steps": f"{100 * (epoch - steps) / epoch:.0f} %",
            "ms_per_step": round(1000 * steps / len(batches), 1)}


def run(device: torch.device) -> list[dict]:
    data = random_images()
    variants = dict(VARIANTS)
    if precision_for("cifar10", device.type) == "bf16":
        variants.update([FP32_VARIANT])
    rows = [{"case": label, "variant": name, **measure(method, bits, variant, data, device)}
            for label, method, bits in CASES for name, variant in variants.items()]
    eager = {row["case"]: row["ms_per_step"] for row in rows if row["variant"] == "eager"}
    for row in rows:
        row["step_vs_eager"] = round(row["ms_per_step"] / eager[row["case"]], 2)
    fp = {row["variant"]: row["ms_per_step"] for row in rows if row["case"] == "fp"}
    for row in rows:
        row["step_vs_fp"] = round(row["ms_per_step"] / fp[row["variant"]], 2)
    return rows

