"""DoReFa straight-through QAT on any registered model: the baseline of PD-QAT and of cross-paper comparisons.

Zhou et al., "DoReFa-Net" (arXiv 1606.06160), in the Any-Precision / PD-QAT variant of qrepro.quantizers.dorefa:
every Conv2d and Linear layer of the model's body computes g(Q_a(x), Q_w(W)) with

    Q_w(W) = E (2 quantize_k(tanh W / (2 max|tanh W|) + 1/2) - 1),  E = mean|W|,    Q_a(x) = quantize_k(clamp(x, 0, 1)),

and the loss CE(f^q_w(x), y) is back-propagated with the straight-through estimator through the rounding only.
The stem (first convolution) and the classifier (last linear layer) stay in full precision, as in PD-QAT
(Hounie et al., ICASSP 2023; ihounie/con-qat models/resnet_quan.py). At 32 bits it trains the unrounded path
(tanh-normalized weights, clipped activations): the full-precision reference of the same code.

Options: ``high_precision_layers`` (indices into the model's quantizable body layers, see
qrepro.methods.mixed_precision, kept at 32 bits: a mixed-precision model) and ``validation`` (the fraction of
the training split held out; its accuracy is recorded every epoch and the record adds the test accuracy at the
best-validation epoch).

One precision needs one BatchNorm, so any model works. A method that evaluates one set of weights at several
bit-widths (PD-QAT: b and 32, see ``precisions``) needs a model with switchable BatchNorm, one per bit-width
(qrepro.models.preact_resnet); on such a model the arch option ``bit_widths`` must name every precision used.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from .. import models
from ..config import TrainConfig
from ..data import ImageData
from ..models.preact_resnet import set_precision
from ..nn import FULL_PRECISION, LayerQuant, quantize_
from ..quantizers import DoReFaActivation, DoReFaWeight
from ..quantizers.dorefa import DOREFA_BITS, FULL
from .base import Method, Options
from .mixed_precision import arch_layers, body_layers, check_high_precision



@dataclass(frozen=True)
class DoReFaOptions(Options):
    high_precision_layers: tuple[int, ...] | list[int] = ()  # body-layer indices kept at 32 bits (mixed precision)
    validation: float = 0.0  # fraction of the training split held out and evaluated every epoch, in [0, 1)

    def check(self) -> None:
        if not 0 <= self.validation < 1:
            raise ValueError(f"validation is the held-out fraction of the training split, in [0, 1); got "
                             f"{self.validation!r}")


class DoReFa(Method):
    """Straight-through QAT of the b-bit model with DoReFa quantizers (see module docstring)."""

    name = "dorefa"
    supported_bits = DOREFA_BITS
    Options = DoReFaOptions

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        need = self.precisions(config.bits)
        switchable = models.switchable()
        if config.arch in switchable:
            have = {int(b) for b in config.arch_options.get(models.SWITCH_OPTION, (FULL,))}
            if not need <= have:
                raise ValueError(f"{self.name} at {config.bits} bits needs BatchNorm for bit-widths {sorted(need)}; "
                                 f"arch_options {models.SWITCH_OPTION} {sorted(have)} lacks {sorted(need - have)}")
        elif len(need) > 1:
            raise ValueError(f"{self.name} evaluates one set of weights at bit-widths {sorted(need)} and needs a "
                             f"switchable-BatchNorm model (one BatchNorm per bit-width); arch {config.arch!r} is not "
                             f"one, valid: {', '.join(switchable)}")
        names = arch_layers(config.arch, config.arch_options)
        check_high_precision(self.options(config).high_precision_layers, names)

    def levels(self, bits: int) -> tuple[int | None, int | None]:
        """2^k uniform levels for weights and for activations."""
        return (None, None) if bits == FULL else (2**bits, 2**bits)

    def split_data(self, data: ImageData, config: TrainConfig) -> tuple[ImageData, ImageData | None]:
        """Hold out ``validation`` of the training split (per seed, as the official random_split); test unchanged."""
        fraction = self.options(config).validation
        if not fraction:
            return data, None
        held = data.split_validation(fraction, config.seed)  # train: the rest, test: the held-out images
        return replace(held, name=data.name, test_x=data.test_x, test_y=data.test_y), held

    def prepare(self, model: nn.Module, config: TrainConfig) -> None:
        """DoReFa quantizers in the body, pinned 32-bit ones in the high-precision layers; model set to ``bits``."""
        names = body_layers(model)
        keep = {names[i] for i in check_high_precision(self.options(config).high_precision_layers, names)}
        low = LayerQuant(weight=lambda layer: DoReFaWeight(config.bits),
                         act=lambda layer: DoReFaActivation(config.bits))
        high = LayerQuant(weight=lambda layer: DoReFaWeight(FULL, pinned=True),
                          act=lambda layer: DoReFaActivation(FULL, pinned=True))
        quantize_(model, low, first=FULL_PRECISION, last=FULL_PRECISION, overrides={name: high for name in keep})
        set_precision(model, config.bits)  # switchable BatchNorm (if any) and quantizers

    def summarize(self, model: nn.Module, config: TrainConfig) -> dict[str, Any]:
        """The quantizable layers (index order) and those kept in high precision."""
        names = body_layers(model)
        return {"layers": names,
                "high_precision_layers": [names[i] for i in self.options(config).high_precision_layers]}


METHODS = (DoReFa(),)


def body_layer_names(record: dict[str, Any]) -> list[str]:
    """The quantizable body layers of a recorded DoReFa or PD-QAT run's model, in index order (``summarize``)."""
    return record["summary"]["layers"]
