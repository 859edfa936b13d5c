"""Training: fit / evaluate loops, optimizers and schedules, checkpoints and resume."""
from .loop import Objective, autocast, evaluate, fit, recalibrate_batchnorm, train_step
from .optim import build_optimizer, build_scheduler, parameter_groups

__all__ = ["Objective", "autocast", "build_optimizer", "build_scheduler", "evaluate", "fit", "parameter_groups",
           "recalibrate_batchnorm", "train_step"]
