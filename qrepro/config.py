"""Run configurations: one frozen dataclass per run kind, fully describing a run; its hash names the run.

A ``TrainConfig`` trains a model, in full precision (method "fp") or with quantization-aware training
(any other registered method); a ``PTQConfig`` quantizes an already recorded model without training.
Everything that changes the numbers is in the config (data set, model, method and its hyper-parameters,
schedule, seed, profile); what only changes where or how fast it runs (data root, device) is not.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Schedule:
    """Optimizer and learning-rate schedule of one training run."""

    epochs: int
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_schedule: str = "cosine"  # cosine | step | constant
    milestones: tuple[int, ...] = ()  # epochs at which "step" multiplies the lr by gamma
    gamma: float = 0.1
    # learning rate and weight decay for parameters whose qualified name ends with a key, e.g.
    # {"act_quantizer.alpha": (0.1, 1e-4)}; these groups follow the same schedule multiplier.
    group_overrides: dict[str, tuple[float, float]] = field(default_factory=dict)

    OPTIMIZERS: ClassVar[tuple[str, ...]] = ("sgd", "adam")
    LR_SCHEDULES: ClassVar[tuple[str, ...]] = ("cosine", "step", "constant")

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.optimizer not in self.OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {self.OPTIMIZERS}")
        if self.lr_schedule not in self.LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; valid: {self.LR_SCHEDULES}")
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (value == 0 and name in ("lr", "gamma")):
                raise ValueError(f"{name} must be a finite number {'> 0' if name in ('lr', 'gamma') else '>= 0'}, "
                                 f"got {value}")
        for key, (lr, weight_decay) in self.group_overrides.items():
            if not (math.isfinite(lr) and lr > 0 and math.isfinite(weight_decay) and weight_decay >= 0):
                raise ValueError(f"group_overrides[{key!r}] needs a finite lr > 0 and weight decay >= 0, "
                                 f"got {(lr, weight_decay)}")
        object.__setattr__(self, "milestones", tuple(self.milestones))
        object.__setattr__(self, "group_overrides", {k: tuple(v) for k, v in self.group_overrides.items()})


@dataclass(frozen=True)
class _RunConfig:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"kind": self.kind,
                **{k: v.to_dict() if isinstance(v, _RunConfig) else _plain(v) for k, v in fields.items()}}

    @property
    def hash(self) -> str:
        """A stable hash of everything that defines the run (sha256 of canonical JSON)."""
        text = json.dumps({"schema": SCHEMA_VERSION, **self.to_dict()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def run_id(self) -> str:
        return f"{self.profile}-{self.label}-{self.hash}"  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TrainConfig(_RunConfig):
    """Train ``arch`` on ``data`` with ``method`` at ``bits`` (32 = full precision), from scratch or from ``init``."""

    chapter: str
    data: str
    arch: str
    schedule: Schedule
    method: str = "fp"
    bits: int = 32
    options: dict[str, Any] = field(default_factory=dict)  # the method's hyper-parameters
    arch_options: dict[str, Any] = field(default_factory=dict)
    init: TrainConfig | None = None  # the run whose final weights initialize this one (run first)
    seed: int = 0
    profile: str = "smoke"
    kind: ClassVar[str] = "train"

    @property
    def label(self) -> str:
        precision = "fp" if self.bits == 32 else f"w{self.bits}"
        return f"{self.arch}-{self.method}-{precision}" if self.method != "fp" else f"{self.arch}-fp"


@dataclass(frozen=True)
class PTQConfig(_RunConfig):
    """Quantize the model trained by ``model`` with ``method`` at ``bits``, without training."""

    chapter: str
    data: str
    arch: str
    model: TrainConfig  # the recorded full-precision run to quantize
    method: str
    bits: int
    options: dict[str, Any] = field(default_factory=dict)
    calibration: int = 256  # calibration images per layer
    batch_size: int = 256  # evaluation batch size
    seed: int = 0
    profile: str = "smoke"
    kind: ClassVar[str] = "ptq"

    @property
    def label(self) -> str:
        return f"{self.arch}-{self.method}-w{self.bits}"


CONFIG_KINDS: dict[str, type[_RunConfig]] = {"train": TrainConfig, "ptq": PTQConfig}


def config_from_dict(data: dict[str, Any]) -> TrainConfig | PTQConfig:
    """Rebuild a config from ``to_dict()`` output (as stored in a record)."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in CONFIG_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; valid: {sorted(CONFIG_KINDS)}")
    if kind == "train":
        data["schedule"] = Schedule(**data["schedule"])
        if data.get("init") is not None:
            data["init"] = config_from_dict(data["init"])
    if kind == "ptq":
        data["model"] = config_from_dict(data["model"])
    return CONFIG_KINDS[kind](**data)


def _plain(value: Any) -> Any:
    """Dataclasses to dicts and tuples to lists, recursively, so a config equals its JSON round trip."""
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
