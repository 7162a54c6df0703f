import torch

from pipeline.models import build_model, count_macs_params
from pipeline.stages.prune import prune_channels
from pipeline.torch_artifact import WEIGHTS_FILE, load_resized


def test_pruned_model_saves_as_plain_weights_and_reloads_exactly(tmp_path):
    torch.manual_seed(0)
    model = build_model("cifar_resnet8", 10, 1, 8, {"width": 8}).eval()
    example = torch.zeros(1, 1, 8, 8)
    macs_before, params_before = count_macs_params(model, example)
    prune_channels(model, example, 0.5, num_classes=10)
    macs_after, params_after = count_macs_params(model, example)
    assert macs_after < 0.5 * macs_before and params_after < 0.5 * params_before
    assert model.fc.out_features == 10  # the classifier keeps its classes

    torch.save(model.state_dict(), tmp_path / WEIGHTS_FILE)
    state = torch.load(tmp_path / WEIGHTS_FILE, weights_only=True)  # no pickled modules
    rebuilt = load_resized(build_model("cifar_resnet8", 10, 1, 8, {"width": 8}), state).eval()
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(rebuilt(x), model(x))
    assert count_macs_params(rebuilt, example) == (macs_after, params_after)


def test_depthwise_models_reload_after_pruning():
    model = build_model("mobilenet_v3_small", 4, 1, 32, {}).eval()
    example = torch.zeros(1, 1, 32, 32)
    prune_channels(model, example, 0.3, num_classes=4)
    rebuilt = load_resized(build_model("mobilenet_v3_small", 4, 1, 32, {}), model.state_dict()).eval()
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(rebuilt(x), model(x))
