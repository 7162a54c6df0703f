import pickle

import pytest
import torch

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.models.checkpoints import load_checkpoint
from edgeship.pipeline.models.zoo import build_model, count_macs_params


@pytest.mark.parametrize("arch, args", [
    ("cifar_resnet8", {"width": 8}),
    ("cifar_resnet20", {}),
    ("simple_cnn", {"width": 4, "depth": 3}),
    ("resnet18", {}),
    ("mobilenet_v3_small", {}),
    ("python:tests.support.custom_model:tiny_mlp", {"hidden": 7}),
])
def test_architectures_take_the_input_and_give_class_logits(arch, args):
    model = build_model(arch, num_classes=5, in_channels=1, image_size=16, args=args).eval()
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 5)


def test_unknown_architecture_and_bad_args():
    with pytest.raises(EdgeshipError, match="unknown architecture 'resnet-9000'"):
        build_model("resnet-9000", 10, 1, 8, {})
    with pytest.raises(EdgeshipError, match="bad args"):
        build_model("simple_cnn", 10, 1, 8, {"colour": "blue"})
    with pytest.raises(EdgeshipError, match="cannot import"):
        build_model("python:no_such_module_xyz:f", 10, 1, 8, {})


def test_macs_and_params_are_counted():
    model = build_model("simple_cnn", 10, 1, 8, {"width": 4, "depth": 1})
    macs, params = count_macs_params(model, torch.zeros(1, 1, 8, 8))
    assert params == 4 * 9 + 2 * 4 + 4 * 10 + 10
    assert macs >= 4 * 9 * 64


def test_checkpoint_with_wrong_shapes_is_refused(tmp_path):
    other = build_model("simple_cnn", 10, 1, 8, {"width": 8})
    path = tmp_path / "teacher.pt"
    torch.save(other.state_dict(), path)
    target = build_model("simple_cnn", 10, 1, 8, {"width": 4})
    with pytest.raises(EdgeshipError, match="does not match the architecture"):
        load_checkpoint(path, target, "teacher.checkpoint")


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_checkpoint_with_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"weight": Payload()}, path, pickle_module=pickle)
    with pytest.raises(EdgeshipError, match="not a weights-only state dict"):
        load_checkpoint(path, build_model("simple_cnn", 10, 1, 8, {}), "teacher.checkpoint")
    assert "code ran" not in capsys.readouterr().out


def test_good_checkpoint_loads(tmp_path):
    source = build_model("simple_cnn", 10, 1, 8, {"width": 4}).eval()
    path = tmp_path / "ok.pt"
    torch.save(source.state_dict(), path)
    loaded = build_model("simple_cnn", 10, 1, 8, {"width": 4}).eval()
    assert load_checkpoint(path, loaded, "teacher.checkpoint", 10) == []
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(loaded(x), source(x))


def test_checkpoint_for_other_classes_replaces_only_the_head(tmp_path):
    import torchvision

    source = torchvision.models.resnet18(num_classes=1000)
    path = tmp_path / "imagenet.pt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}}, path)
    target = build_model("resnet18", 7, 3, 64, {})
    fresh_head = target.fc.weight.detach().clone()
    replaced = load_checkpoint(path, target, "teacher.checkpoint", 7, prefix="model.")
    assert replaced == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(target.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    torch.testing.assert_close(target.fc.weight, fresh_head)


def test_checkpoint_prefix_that_matches_nothing_names_the_keys(tmp_path):
    path = tmp_path / "ddp.pt"
    model = build_model("simple_cnn", 10, 1, 8, {"width": 4})
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    assert load_checkpoint(path, build_model("simple_cnn", 10, 1, 8, {"width": 4}), "t", 10) == []  # DDP's prefix
    with pytest.raises(EdgeshipError, match=r"checkpoint_prefix 'net\.' matches no key .*module\.features"):
        load_checkpoint(path, model, "teacher.checkpoint", 10, prefix="net.")


def test_a_body_that_does_not_fit_is_refused_even_with_a_new_head(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(build_model("simple_cnn", 5, 1, 8, {"width": 8}).state_dict(), path)
    with pytest.raises(EdgeshipError, match=r"features.0.weight is \(8, 1, 3, 3\) in the file, \(4, 1, 3, 3\)"):
        load_checkpoint(path, build_model("simple_cnn", 10, 1, 8, {"width": 4}), "teacher.checkpoint", 10)


def test_timm_models_build_and_unknown_names_are_one_line():
    model = build_model("timm:mobilenetv3_small_050", 10, 3, 64, {})
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 10)
    with pytest.raises(EdgeshipError, match="timm has no model 'resnet_nope'"):
        build_model("timm:resnet_nope", 10, 3, 64, {})
