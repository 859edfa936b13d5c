"""The inputs GPFQ quantizes a layer from: X from the analog network, X~ from the partly quantized one.

As the official code collects them (YixuanSeanZhou/Quantized_Neural_Nets src/quantize_neural_net.py
``_populate_linear_layer_input``, ``SaveInputMLP``, ``SaveInputConv2d``; src/data_loaders.py):
- each layer gets a fresh batch of calibration images from the *training* split, shuffled and with the
  data set's training augmentation (CIFAR: random crop with 4-pixel padding and horizontal flip), as the
  official code draws the next batch of its training loader for every layer;
- the same images go through the analog network and through the network whose earlier layers are already
  quantized; a hook takes the layer's input and stops the forward pass there;
- a Linear layer's input is X as it is (B x d); a Conv2d layer's input is unfolded into patches with
  stride = kernel size (non-overlapping patches, whatever the layer's own stride), and of the L patches of
  each image int(p L + 1) are kept (all L when p = 1), drawn uniformly *with replacement* (numpy's
  ``random.choice`` default in the official code), the same indices for X and X~. Rows of X are patches,
  columns are C_in k_h k_w, matching the rows of the flattened filters.

``patches="conv"`` (not in the official code, an ablation) unfolds with the layer's own stride instead, so
the patches are the layer's real receptive fields. With stride = kernel size, a kernel entry that only ever
meets zero padding (e.g. the first row and column of a 3x3 kernel, padding 1, on a 2x2 input: ResNet-18
layer4 on CIFAR with the max-pool, ResNet-20's last stage on 8x8 digits) has X~_t = 0, so GPFQ sets it to 0.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..data import DeviceLoader, ImageData


class _InputCaptured(Exception):
    """Raised by the hook once the layer's input is taken, to skip the rest of the forward pass."""


def calibration_batches(data: ImageData, size: int, device: torch.device, seed: int) -> Iterator[torch.Tensor]:
    """Endless batches of ``size`` augmented, normalized training images; a new shuffle every pass."""
    loader = DeviceLoader(data, "train", size, device=device, seed=seed)
    while True:
        for images, _ in loader:
            yield images


@torch.no_grad()
def capture_input(model: nn.Module, name: str, images: torch.Tensor) -> torch.Tensor:
    """The input of ``model``'s submodule ``name`` when ``model`` runs on ``images`` (the pass stops there)."""
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple) -> None:
        captured.append(args[0].detach())
        raise _InputCaptured

    handle = model.get_submodule(name).register_forward_pre_hook(hook)
    try:
        model(images)
    except _InputCaptured:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"layer {name} is not called by {type(model).__name__}.forward")
    return captured[0]


PATCHES = ("kernel", "conv")


def unfold_patches(x: torch.Tensor, conv: nn.Conv2d, patches: str = "kernel") -> torch.Tensor:
    """B x C x H x W -> B x L x (C k_h k_w): the patches of ``conv``, with stride = kernel size (``"kernel"``,
    official: non-overlapping) or the conv's own stride (``"conv"``)."""
    if patches not in PATCHES:
        raise ValueError(f"unknown patches {patches!r}; valid: {', '.join(PATCHES)}")
    if isinstance(conv.padding, str):
        raise ValueError(f"padding={conv.padding!r} is not supported; give the conv integer padding")
    stride = conv.kernel_size if patches == "kernel" else conv.stride
    return F.unfold(x, conv.kernel_size, conv.dilation, conv.padding, stride=stride).transpose(1, 2)


def patch_indices(images: int, patches: int, retain_rate: float, generator: torch.Generator) -> torch.Tensor:
    """Row indices into the (images * patches) unfolded rows: int(p L + 1) per image (L when p = 1), drawn
    with replacement from that image's own patches."""
    keep = patches if retain_rate == 1 else int(retain_rate * patches + 1)
    offsets = torch.randint(0, patches, (images, keep), generator=generator)
    return (torch.arange(images)[:, None] * patches + offsets).flatten()


def layer_inputs(analog: nn.Module, quantized: nn.Module, name: str, images: torch.Tensor, retain_rate: float,
                 generator: torch.Generator, patches: str = "kernel") -> tuple[torch.Tensor, torch.Tensor]:
    """(X, X~), both m x d: layer ``name``'s inputs in the analog and in the partly quantized network."""
    x = capture_input(analog, name, images)
    x_tilde = capture_input(quantized, name, images)
    layer = analog.get_submodule(name)
    if not isinstance(layer, nn.Conv2d):
        return x.reshape(-1, x.shape[-1]), x_tilde.reshape(-1, x_tilde.shape[-1])
    x, x_tilde = unfold_patches(x, layer, patches), unfold_patches(x_tilde, layer, patches)
    rows = patch_indices(x.shape[0], x.shape[1], retain_rate, generator).to(x.device)
    return x.reshape(-1, x.shape[-1])[rows], x_tilde.reshape(-1, x_tilde.shape[-1])[rows]
