import pytest
import torch

from edgeship.pipeline.models.torch_artifact import WEIGHTS_FILE, load_resized
from edgeship.pipeline.models.zoo import build_model, count_macs_params
from edgeship.pipeline.stages.prune import prune_channels


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


@pytest.mark.parametrize("arch, size", [("mobilenet_v3_small", 32), ("convnext_tiny", 64), ("efficientnet_b0", 64),
                                        ("regnet_x_400mf", 64), ("mnasnet0_5", 64), ("squeezenet1_0", 64)])
def test_zoo_models_reload_after_pruning(arch, size):
    """Depthwise convolutions, ConvNeXt's LayerNorm2d and layer scale, squeeze-excitation, fire modules."""
    torch.manual_seed(0)
    model = build_model(arch, 4, 3, size, {}).eval()
    example = torch.zeros(1, 3, size, size)
    prune_channels(model, example, 0.3, num_classes=4)
    rebuilt = load_resized(build_model(arch, 4, 3, size, {}), model.state_dict()).eval()
    x = torch.randn(2, 3, size, size)
    torch.testing.assert_close(rebuilt(x), model(x))


from edgeship.pipeline.config.recipe import PruneConfig  # noqa: E402
from edgeship.pipeline.stages.prune import make_pruner, prune_step  # noqa: E402


@pytest.mark.parametrize("importance", ["l1", "l2", "bn_scale", "taylor"])
@pytest.mark.parametrize("global_pruning", [False, True])
def test_importance_criteria_and_iterative_steps(importance, global_pruning):
    torch.manual_seed(0)
    model = build_model("cifar_resnet8", 10, 1, 8, {"width": 8})
    for module in model.modules():  # trained BN scales differ; fresh ones are all 1 and would tie
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.1, 1.0)
    example = torch.zeros(1, 1, 8, 8)
    _, params0 = count_macs_params(model, example)
    cfg = PruneConfig(ratio=0.5, importance=importance, global_pruning=global_pruning, steps=2)
    pruner = make_pruner(model, example, cfg, 10, cfg.steps)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    sizes = []
    for _ in range(cfg.steps):
        prune_step(pruner, model, cfg, x, y)
        sizes.append(count_macs_params(model, example)[1])
    assert params0 > sizes[0] > sizes[1]  # each step removes more
    assert model.fc.out_features == 10
    assert model.eval()(x).shape == (16, 10)


def test_ignored_layers_keep_their_channels():
    model = build_model("simple_cnn", 10, 1, 8, {"width": 8, "depth": 2})
    cfg = PruneConfig(ratio=0.5, ignore=["features.0"])
    prune_step(make_pruner(model, torch.zeros(1, 1, 8, 8), cfg, 10), model, cfg)
    assert model.features[0].out_channels == 8 and model.features[4].out_channels == 8


def test_unknown_ignored_layer_is_named():
    from edgeship.pipeline.core.infrastructure.errors import EdgeshipError

    model = build_model("simple_cnn", 10, 1, 8, {"width": 8})
    with pytest.raises(EdgeshipError, match="prune.ignore: no module named 'head'"):
        make_pruner(model, torch.zeros(1, 1, 8, 8), PruneConfig(ignore=["head"]), 10)
