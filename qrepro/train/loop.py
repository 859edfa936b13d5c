"""One training loop for every method: fit() and evaluate(), resumable, with bf16 autocast and progress bars.

A method changes what a batch costs through an ``Objective`` (default: cross-entropy of the model's
output) and may add per-epoch work (e.g. a dual ascent step) and per-epoch metrics; the loop does the rest:
optimizer and lr schedule, per-epoch checkpoint (model, optimizer, scheduler, loader and RNG state,
metrics so far), resume after a kill, and per-epoch test evaluation.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..config import Schedule
from ..data import DeviceLoader, ImageData
from .checkpoint import CheckpointError, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .distributed import all_sum, barrier, is_main, rank_and_world
from .optim import build_optimizer, build_scheduler


class Objective:
    """Per-batch loss of a training method; subclasses add state, per-step and per-epoch work and metrics."""

    def before_step(self, model: nn.Module) -> None:
        """Work before each training step's forward pass (e.g. SQ's draw of quantized layers, ELQ's pull)."""

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (loss to minimize, logits used for the training accuracy)."""
        logits = model(x)
        return F.cross_entropy(logits, y), logits

    def end_epoch(self, model: nn.Module, train_loader: DeviceLoader, epoch: int) -> dict[str, Any]:
        """Work after each epoch's optimizer steps; returns extra metrics for the epoch's record."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def non_finite_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters holding a NaN or an infinity (one host sync for the whole model)."""
    params = list(model.named_parameters())
    finite = torch.stack([p.detach().isfinite().all() for _, p in params]).tolist() if params else []
    return [name for (name, _), ok in zip(params, finite) if not ok]


def autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``amp`` (CUDA or a CPU; the caller decides, see profiles.precision_for); a
    no-op otherwise."""
    if amp and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, device: torch.device, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step as every run takes it (benchmarks too): the objective's ``before_step``, its loss under
    bf16 autocast when ``amp``, backward, update. Returns (loss, logits)."""
    objective.before_step(model)
    with autocast(device, amp):
        loss, logits = objective.loss(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


@torch.no_grad()
def evaluate(model: nn.Module, loader: DeviceLoader, device: torch.device) -> dict[str, float]:
    """Mean cross-entropy, top-1 and top-5 accuracy (%) of ``model`` over ``loader``.

    Always without autocast, in the model's own precision (float32): a reported accuracy is that of the exact
    quantized model, whose levels a bf16 convolution would round (bf16 keeps 8 significant bits)."""
    was_training = model.training
    model.eval()
    loss_sum, top1, top5, count = 0.0, 0, 0, 0
    for x, y in loader:
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        ranked = logits.topk(min(5, logits.shape[1]), dim=1).indices
        top1 += (ranked[:, 0] == y).sum().item()
        top5 += (ranked == y[:, None]).any(dim=1).sum().item()
        count += y.numel()
    model.train(was_training)
    return {"loss": loss_sum / count, "top1": 100.0 * top1 / count, "top5": 100.0 * top5 / count}


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
                          keep_eval: tuple[type[nn.Module], ...] = ()) -> None:
    """Recompute every BatchNorm's running mean and variance as the plain average over the batches of ``loader``
    in training mode (the statistics of the weights as they are now; no parameter changes). Modules of a type in
    ``keep_eval`` stay in evaluation mode during the pass (e.g. SQ's weight quantizers, which then quantize every
    unit, so that the statistics are those of the network that is evaluated)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the pass
    was_training = model.training
    model.train()
    for m in model.modules():
        if isinstance(m, keep_eval):
            m.eval()
    for x, _ in loader:
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


def fit(
    model: nn.Module,
    data: ImageData,
    schedule: Schedule,
    *,
    device: torch.device,
    seed: int = 0,
    objective: Objective | None = None,
    checkpoint: Path | None = None,
    progress: bool = True,
    amp: bool = False,
    compile: bool = False,
    channels_last: bool = False,
    description: str = "train",
    validation: ImageData | None = None,
    version: dict[str, str] | None = None,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` for ``schedule.epochs`` and return one metrics dict per epoch.

    With ``checkpoint``, state is saved after every epoch and an existing checkpoint is resumed from,
    so a killed run continues where it stopped and ends with the same metrics as an uninterrupted one.
    Under torchrun the model is wrapped in DistributedDataParallel and each process trains on its shard
    of every batch; ``compile`` runs the training forward through ``torch.compile``. With ``validation``
    (images held out of training), its test split is evaluated every epoch too. ``version`` (the code's
    ``behaviour`` fingerprint and ``source_hash``) is kept in the checkpoint: a checkpoint of code that computes
    differently is never resumed, and each epoch's metrics name the source that trained it. A non-finite training
    loss stops the run with an error naming the epoch and the first bad batch. ``stop_after`` ends the call after
    that epoch of the schedule, leaving the checkpoint to resume the rest (the schedule is still the whole one).
    """
    objective = objective or Objective()
    rank, world = rank_and_world()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    train_loader = DeviceLoader(data, "train", schedule.batch_size, device=device, seed=seed,
                                channels_last=channels_last, shard=(rank, world))
    test_loader = DeviceLoader(data, "test", max(schedule.batch_size, 256), device=device,
                               channels_last=channels_last)
    val_loader = (DeviceLoader(validation, "test", max(schedule.batch_size, 256), device=device,
                               channels_last=channels_last) if validation is not None else None)
    trained = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if compile:
        trained = torch.compile(trained)
    optimizer = build_optimizer(model, schedule)
    scheduler = build_scheduler(optimizer, schedule)
    history: list[dict[str, Any]] = []

    state = load_checkpoint(checkpoint) if checkpoint else None
    if state is not None and version is not None and state.get("version", {}).get("behaviour") != version["behaviour"]:
        raise CheckpointError(f"{checkpoint} was written by code that computes something else (behaviour "
                              f"{state.get('version', {}).get('behaviour')}, now {version['behaviour']}): resuming "
                              "would mix two versions in one run; delete it to start this run again")
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        train_loader.load_state_dict(state["loader"])
        objective.load_state_dict(state["objective"])
        set_rng_state(state["rng"])
        history = state["history"]

    last = min(stop_after or schedule.epochs, schedule.epochs)
    epochs = tqdm(range(len(history), last), desc=description, initial=len(history), total=schedule.epochs,
                  disable=not progress, unit="epoch")
    for epoch in epochs:
        start = time.perf_counter()
        model.train()
        loss_sum, correct, count = 0.0, 0, 0
        first_bad = torch.tensor(-1, device=device)  # the first batch with a non-finite loss, found without a sync
        for batch, (x, y) in enumerate(tqdm(train_loader, leave=False, disable=not progress, unit="batch")):
            loss, logits = train_step(trained, objective, optimizer, x, y, device, amp)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), batch, first_bad)
            loss_sum += loss.detach().float() * y.numel()
            correct += (logits.detach().argmax(1) == y).sum()
            count += y.numel()
        loss_sum, correct, count, bad = all_sum(loss_sum, correct, torch.tensor(count, device=device),
                                                (first_bad + 1).clamp(max=1))
        if bad:
            raise FloatingPointError(f"{description}: the training loss is not finite at epoch {epoch + 1}, batch "
                                     f"{int(first_bad) + 1} of {len(train_loader)} (the run diverged: lower the "
                                     "learning rate); nothing is recorded")
        diverged = non_finite_parameters(model)
        if diverged:
            raise FloatingPointError(f"{description}: after epoch {epoch + 1} the parameter(s) {diverged} are not "
                                     "finite (the run diverged: lower the learning rate); nothing is recorded")
        with autocast(device, amp):  # end-of-epoch work (e.g. a dual step) sees the model as training runs it
            extra = objective.end_epoch(model, train_loader, epoch)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        test = evaluate(model, test_loader, device)
        val = evaluate(model, val_loader, device) if val_loader is not None else None
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        history.append({
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": float(loss_sum) / float(count),
            "train_top1": 100.0 * float(correct) / float(count),
            "test_loss": test["loss"],
            "test_top1": test["top1"],
            "test_top5": test["top5"],
            "seconds": time.perf_counter() - start,
            "memory_format": "channels_last" if channels_last else "contiguous",
            "amp": "bf16" if amp and device.type in ("cuda", "cpu") else "fp32",
            **({"val_loss": val["loss"], "val_top1": val["top1"]} if val else {}),
            **extra,
            **({"source_hash": version["source_hash"]} if version else {}),
        })
        epochs.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", test_top1=f"{test['top1']:.2f}")
        if checkpoint and is_main():
            save_checkpoint(checkpoint, {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "loader": train_loader.state_dict(),
                "objective": objective.state_dict(),
                "rng": rng_state(),
                "history": history,
                "version": version,
            })
        barrier()
    return history
