"""A runtime's layer names name the torch module they come from, and the same on every export: the int8 budget
ranks layers by their module's quantization error, and the budget search keeps the layers one export chose float
in the next. (OpenVINO 2026.4 named each convolution with a batch norm after its fold, 'Multiply_2852', a
counter that changed with every conversion.)"""
import pytest
import torch

from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.pipeline.formats.layer_error import module_of
from edgeship.pipeline.models.zoo import build_model


@pytest.mark.parametrize("fmt", ["onnx", "openvino", "tflite"])
@pytest.mark.parametrize("arch", ["simple_cnn", "cifar_resnet8"])
def test_every_layer_names_its_module_and_keeps_its_name(tmp_path, fmt, arch):
    model = build_model(arch, 10, 1, 16, {"width": 8}).eval()
    named = dict(model.named_modules())
    backend = format_named(fmt)
    example = torch.zeros(1, 1, 16, 16)
    names = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        path = tmp_path / run / backend.export(model, example, tmp_path / run, 17)
        names.append(backend.layers(path, model, tmp_path / run))
    convs = [name for name, m in named.items() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert names[0] == names[1] and len(names[0]) == len(convs)
    assert sorted(module_of(layer, named) for layer in names[0]) == sorted(convs), names[0]
