"""Weight initialisation shared by every model in :mod:`qrepro.models`.

* ``nn.Conv2d``: Kaiming-normal, fan-out mode, ReLU gain (He et al., 2015),
  i.e. ``N(0, sqrt(2 / (k * k * C_out)))``; a conv bias, where present, is zeroed.
* ``nn.BatchNorm1d`` / ``nn.BatchNorm2d``: weight 1, bias 0.
* ``nn.Linear``: PyTorch's default, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
  for weight and bias.
"""

from torch import nn


def init_weights(model: nn.Module) -> None:
    """Initialise ``model`` in place with the scheme described in the module docstring."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
