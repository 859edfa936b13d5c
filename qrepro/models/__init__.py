"""Model zoo for the quantization reproductions: a name -> builder registry.

>>> from qrepro import models
>>> net = models.create("resnet20", num_classes=10, shortcut="B")
>>> models.available()
['lenet5', 'preact_resnet20', 'resnet18', 'resnet20', 'resnet32', 'resnet56', 'vgg9', 'vgg_small']

Every builder takes ``num_classes`` and ``in_channels``; builders whose architecture
depends on the input size (VGGs, LeNet-5) also take ``image_size``; the ResNets use global
average pooling and ignore it. Any other keyword is a model-specific option:

* ``resnet20`` / ``resnet32`` / ``resnet56``: ``shortcut`` ("A" or "B"), ``width`` (int)
* ``resnet18``: ``maxpool`` (bool)
* ``preact_resnet20``: ``width`` (int, default 5), ``bit_widths`` (the precisions that get a
  switchable BatchNorm, default (32,))
* ``vgg9``, ``vgg_small``, ``lenet5``: none

All models register their modules in forward order (the first ``nn.Conv2d`` in
``modules()`` is the stem, the last ``nn.Linear`` the classifier) and are initialised by
:func:`qrepro.models.init.init_weights`, except ``preact_resnet20``, which keeps PyTorch's default
initialization as the official PD-QAT code does.
"""

import inspect
from collections.abc import Callable

from torch import nn

from qrepro.models.lenet import lenet5
from qrepro.models.preact_resnet import preact_resnet20
from qrepro.models.resnet18 import resnet18
from qrepro.models.resnet_cifar import resnet20, resnet32, resnet56
from qrepro.models.vgg import vgg9, vgg_small

REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "lenet5": lenet5,
    "preact_resnet20": preact_resnet20,
    "resnet18": resnet18,
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet56": resnet56,
    "vgg9": vgg9,
    "vgg_small": vgg_small,
}

_COMMON = ("num_classes", "in_channels", "image_size")


def available() -> list[str]:
    """Sorted names accepted by :func:`create`."""
    return sorted(REGISTRY)


def options(name: str) -> list[str]:
    """Model-specific option names accepted by ``create(name, ...)``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(available())}")
    return [p for p in inspect.signature(REGISTRY[name]).parameters if p not in _COMMON]


SWITCH_OPTION = "bit_widths"  # the option of models with one BatchNorm per bit-width (switchable BatchNorm)


def switchable() -> list[str]:
    """Registered models with switchable BatchNorm (those taking the ``bit_widths`` option)."""
    return [name for name in available() if SWITCH_OPTION in options(name)]


def precision_options(name: str, precisions: set[int]) -> dict[str, list[int]]:
    """The options model ``name`` needs to run at each of ``precisions``: one BatchNorm per bit-width where it
    switches them, nothing otherwise."""
    return {SWITCH_OPTION: sorted(precisions)} if name in switchable() else {}


def create(name: str, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, **opts) -> nn.Module:
    """Build model ``name`` for ``in_channels`` x ``image_size`` x ``image_size`` inputs."""
    accepted = options(name)
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise TypeError(
            f"model {name!r} got unknown option(s) {', '.join(unknown)}; "
            f"accepted options: {', '.join(accepted) or 'none'}"
        )
    builder = REGISTRY[name]
    if "image_size" in inspect.signature(builder).parameters:
        opts["image_size"] = image_size
    return builder(num_classes=num_classes, in_channels=in_channels, **opts)
