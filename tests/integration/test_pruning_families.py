"""Every torchvision family the README lists can be pruned (the latency-budget search prunes whatever student it
is given), ShuffleNetV2 included: its channel shuffle is a module the pruner keeps whole, with torchvision's own
function, and it exports to every runtime."""
import numpy as np
import pytest
import torch
import torchvision

from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.formats.parity import check_parity
from edgeship.pipeline.models.zoo import build_model, count_macs_params
from edgeship.pipeline.stages.prune import prune_channels
from edgeship.pipeline.tasks.classification import CLASSIFICATION

FAMILIES = ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x0_5", "regnet_x_400mf",
            "squeezenet1_1", "mnasnet0_5", "convnext_tiny", "resnet18"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_prunes_to_fewer_macs_and_still_classifies(family):
    torch.manual_seed(0)
    model = build_model(family, 10, 1, 32, {}).eval()
    example = torch.zeros(1, 1, 32, 32)
    macs, params = count_macs_params(model, example)
    prune_channels(model, example, 0.3, 10)
    pruned_macs, pruned_params = count_macs_params(model, example)
    assert pruned_macs < 0.8 * macs and pruned_params < params
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_shufflenet_computes_torchvisions_function_with_its_shuffles_as_modules():
    original = torchvision.models.shufflenet_v2_x0_5(num_classes=10).eval()
    ours = build_model("shufflenet_v2_x0_5", 10, 3, 224, {}).eval()
    ours.load_state_dict(original.state_dict())  # no new weights: the same keys
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), original(x), atol=1e-5)
    assert sum(isinstance(m, torch.nn.ChannelShuffle) for m in ours.modules()) == 16


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "openvino"])
def test_a_pruned_shufflenet_exports_with_the_same_outputs(fmt, tmp_path):
    torch.manual_seed(0)
    model = build_model("shufflenet_v2_x0_5", 10, 1, 32, {}).eval()
    prune_channels(model, torch.zeros(1, 1, 32, 32), 0.3, 10)
    name = FORMATS.get(fmt).export(model, torch.zeros(1, 1, 32, 32), tmp_path, 17)
    inputs = np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float32)
    parity = check_parity(model, fmt, tmp_path / name, inputs, CLASSIFICATION)
    assert parity["max_abs_diff"] < 1e-3 and parity["agreement"] == 100.0, parity
