"""GPFQ speed: the vectorized update against a per-neuron loop on a ResNet-18 (CIFAR) layer, and the time to
quantize the whole ResNet-18.

1. Layer: ``layers.2.0.conv2`` of the seed's ResNet-18 (3x3 stem, max-pool; 256 neurons, d = 2304) on
   CIFAR-10-shaped inputs: X from the analog network, X~ from the network with every earlier layer rounded
   (MSQ, 4 bits), unfolded as GPFQ unfolds them (256 images, retain rate 0.25). In float64 the vectorized
   ``gpfq_layer`` and ``gpfq_layer_per_neuron`` (the same update, one neuron at a time) must agree to 1e-5,
   and the vectorized one should be at least 50x faster. The network has random weights and the images
   come from ``cifar10-jpeg`` when it is at hand (else random pixels): neither changes the work done.
2. Network: seconds for ``GPFQ.quantize`` on the whole ResNet-18 (21 layers) with 256 and 2048 images per
   layer, 4 bits, float32 (each layer runs the analog and the partly quantized network up to it, then the update).
"""
from __future__ import annotations

import time

import torch

from .. import data as datasets
from .. import models
from ..methods.gpfq import GPFQ, GPFQ_THREADS, Alphabet, gpfq_layer, gpfq_layer_per_neuron
from ..methods.gpfq_inputs import calibration_batches, layer_inputs
from ..config import PTQConfig, Schedule, TrainConfig
from ..nn import quantizable_layers
from ..threads import torch_threads
from .measure import time_steps, timed

LAYER, BITS, SCALAR, IMAGES = "layers.2.0.conv2", 4, 1.16, 256
NETWORK_CALIBRATION = (256, 2048)


def _data() -> datasets.ImageData:
    try:
        return datasets.load("cifar10-jpeg")
    except (FileNotFoundError, ValueError):
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8, generator=generator)
        labels = torch.arange(4096) % 10
        return datasets.ImageData("random-32x32", images, labels, images[:512], labels[:512],
                                  tuple(map(str, range(10))), (0.5,) * 3, (0.25,) * 3, crop_pad=4, flip=True)


def _model(data: datasets.ImageData, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.create("resnet18", num_classes=10, in_channels=3, maxpool=True).to(device).eval()


def layer_problem(data: datasets.ImageData, device: torch.device) -> tuple[torch.Tensor, ...]:
    """W, X, X~ (float64) of LAYER, with the layers before it rounded to 4 bits in the quantized copy."""
    analog = _model(data, device)
    quantized = _model(data, device)
    for name, layer in quantizable_layers(quantized).items():
        if name == LAYER:
            break
        with torch.no_grad():
            layer.weight.copy_(Alphabet.for_weights(layer.weight, BITS, SCALAR)(layer.weight))
    images = next(calibration_batches(data, IMAGES, device, seed=0))
    x, x_tilde = layer_inputs(analog, quantized, LAYER, images, 0.25, torch.Generator().manual_seed(0))
    weight = analog.get_submodule(LAYER).weight.detach().flatten(1)
    return weight.double(), x.double(), x_tilde.double()


def layer_row(data: datasets.ImageData, device: torch.device) -> dict:
    """Both versions on the same device (on a CPU, one thread: GPFQ's own setting; the loop would not gain from
    more)."""
    weight, x, x_tilde = layer_problem(data, device)
    alphabet = Alphabet.for_weights(weight, BITS, SCALAR)
    vectorized = time_steps(lambda: gpfq_layer(weight, x, x_tilde, alphabet), device, warmup=1, steps=3)
    q, u = gpfq_layer(weight, x, x_tilde, alphabet)
    with torch_threads(GPFQ_THREADS, device):
        threads = torch.get_num_threads()
        reference: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        loop = timed(lambda: reference.update(qu=gpfq_layer_per_neuron(weight, x, x_tilde, alphabet)), device)
        q_ref, u_ref = reference["qu"]
    return {"case": f"layer {LAYER} (N={weight.shape[0]}, d={weight.shape[1]}, m={x.shape[0]}), float64",
            "data": data.name, "threads": threads, "vectorized_s": round(vectorized, 3),
            "per_neuron_loop_s": round(loop, 1), "speedup": round(loop / vectorized, 1),
            "max_abs_diff_q": (q - q_ref).abs().max().item(),
            "max_abs_diff_u": (u - u_ref).abs().max().item()}


def network_row(data: datasets.ImageData, device: torch.device, calibration: int) -> dict:
    model = _model(data, device)
    fp = TrainConfig(chapter="bench", data=data.name, arch="resnet18", schedule=Schedule(epochs=1),
                     arch_options={"maxpool": True})
    config = PTQConfig(chapter="bench", data=data.name, arch="resnet18", model=fp, method="gpfq", bits=BITS,
                       options={"scalar": SCALAR}, calibration=calibration)
    GPFQ().check(config)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    GPFQ().quantize(model, data, config, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"case": f"whole ResNet-18, {calibration} images per layer, float32", "data": data.name,
            "threads": 1 if device.type == "cpu" else None, "seconds": round(time.perf_counter() - start, 1)}


def run(device: torch.device) -> list[dict]:
    data = _data()
    return [layer_row(data, device), *[network_row(data, device, n) for n in NETWORK_CALIBRATION]]
