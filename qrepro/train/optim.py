"""Optimizer with parameter groups and the learning-rate schedule of a ``Schedule``."""
from __future__ import annotations

import torch
from torch import nn

from ..config import Schedule


def parameter_groups(model: nn.Module, schedule: Schedule) -> list[dict]:
    """One group per ``schedule.group_overrides`` suffix (its own lr and weight decay), one for the rest."""
    groups: dict[str, list[nn.Parameter]] = {key: [] for key in schedule.group_overrides}
    rest: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        key = next((k for k in schedule.group_overrides if name.endswith(k)), None)
        (groups[key] if key is not None else rest).append(param)
    result = [{"params": rest, "lr": schedule.lr, "weight_decay": schedule.weight_decay, "name": "default"}]
    for key, params in groups.items():
        lr, wd = schedule.group_overrides[key]
        if params:
            result.append({"params": params, "lr": lr, "weight_decay": wd, "name": key})
    return result


def build_optimizer(model: nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    groups = parameter_groups(model, schedule)
    if schedule.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=schedule.lr, momentum=schedule.momentum)
    return torch.optim.Adam(groups, lr=schedule.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch: cosine to 0 over ``epochs``, step decay at ``milestones``, or constant."""
    if schedule.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=schedule.epochs)
    if schedule.lr_schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(schedule.milestones),
                                                    gamma=schedule.gamma)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
