"""Every quantization-aware training method on models the package did not define (torchvision's), as its runs apply
it: one training step, and every quantized body layer's weights on the method's levels."""
import pytest
import torch
import torchvision

from qrepro.methods import METHODS
from qrepro.methods.mixed_precision import body_layers
from qrepro.nn import quantized_layers
from qrepro.own_model import quantize_model
from qrepro.train import train_step

OWN_METHODS = sorted(set(METHODS) - {"fp", "pdqat"})
ARCHS = {"resnet18": torchvision.models.resnet18, "squeezenet1_1": torchvision.models.squeezenet1_1}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("method", OWN_METHODS)
def test_a_torchvision_model_trains_a_step_with_its_weights_on_the_levels(arch, method, one_thread):
    torch.manual_seed(0)
    model = ARCHS[arch](num_classes=10)
    bits = max(b for b in METHODS[method].supported_bits if b <= 4)
    objective = quantize_model(model, method, bits)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    loss, _ = train_step(model, objective, optimizer, x, y, torch.device("cpu"))
    assert torch.isfinite(loss)
    layers = quantized_layers(model)
    stated, _ = METHODS[method].levels(bits)
    for name in body_layers(model):
        quantizer = layers[name].weight_quantizer
        if method == "elq":  # its last step's final freeze: every weight on its level
            quantizer.freeze_(layers[name].weight, torch.ones_like(quantizer.frozen))
        with torch.no_grad():
            q = quantizer(layers[name].weight)
        per_filter = max(row.unique().numel() for row in q.reshape(q.shape[0], -1))
        assert per_filter <= stated, (name, per_filter, stated)


def test_a_layer_fed_negative_inputs_is_named_instead_of_clipped_and_skip_keeps_it_in_full_precision(one_thread):
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(num_classes=10)  # hardswish outputs reach -0.375
    objective = quantize_model(model, "apot", 4)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    with pytest.raises(ValueError, match=r"layer '([\w.]+)' receives negative inputs .* skip=\['\1'\]"):
        train_step(model, objective, torch.optim.SGD(model.parameters(), lr=0.01), x, y, torch.device("cpu"))
    weights_only = torchvision.models.mobilenet_v3_small(num_classes=10)
    objective = quantize_model(weights_only, "twn", 2)  # weights only: depthwise filters take 3 values each
    loss, _ = train_step(weights_only, objective, torch.optim.SGD(weights_only.parameters(), lr=0.01), x, y,
                         torch.device("cpu"))
    assert torch.isfinite(loss)


def test_methods_that_need_the_packages_own_models_are_refused_clearly():
    with pytest.raises(ValueError, match="one BatchNorm per bit-width"):
        quantize_model(torchvision.models.resnet18(num_classes=10), "pdqat", 2, epsilon=0.7)
    with pytest.raises(ValueError, match="not a quantization-aware training method"):
        quantize_model(torchvision.models.resnet18(num_classes=10), "gpfq", 4)
    with pytest.raises(ValueError, match="apot supports bits"):
        quantize_model(torchvision.models.resnet18(num_classes=10), "apot", 7)


def test_the_readmes_own_model_example_runs_as_written(one_thread):
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Use a method on your own model"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert torch.isfinite(namespace["loss"]) and namespace["logits"].shape == (8, 10)
