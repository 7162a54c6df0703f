"""Deep-to-shallow self-distillation: where the exits go on the families edge teams use, and the loss by hand."""
import pytest
import torch
import torchvision

from edgeship.pipeline.config.recipe import DistillConfig
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.distillation.deep_to_shallow import SELF_TEMPERATURE, ShallowExits
from edgeship.pipeline.distillation.exits import find_exits
from edgeship.pipeline.models.zoo import build_model


@pytest.mark.parametrize("make, size, shallow, deepest", [
    (lambda: torchvision.models.resnet18(num_classes=10), 64, ["layer1", "layer2", "layer3"], "layer4"),
    (lambda: torchvision.models.mobilenet_v2(num_classes=10), 32, ["features.3", "features.6", "features.13"],
     "features.18"),
    (lambda: torchvision.models.regnet_x_400mf(num_classes=10), 64,
     ["trunk_output.block1", "trunk_output.block2", "trunk_output.block3"], "trunk_output.block4"),
    (lambda: build_model("simple_cnn", 10, 1, 28, {"width": 8, "depth": 2}), 28, ["features.2"], "features.6"),
])
def test_exits_end_the_stages_before_the_last(make, size, shallow, deepest):
    channels = 1 if size == 28 else 3
    exits = find_exits(make(), torch.zeros(1, channels, size, size))
    assert [e.name for e in exits.shallow] == shallow
    assert exits.deepest.name == deepest


def test_named_exits_are_checked():
    model = build_model("simple_cnn", 10, 1, 28, {"width": 8, "depth": 2})
    example = torch.zeros(1, 1, 28, 28)
    assert [e.shape for e in find_exits(model, example, ["features.3"]).shallow] == [(8, 14, 14)]
    with pytest.raises(EdgeshipError, match="distill.exits: no module named 'layer9'"):
        find_exits(model, example, ["layer9"])
    with pytest.raises(EdgeshipError, match="distill.exits: 'classifier' does not give an NCHW feature map"):
        find_exits(model, example, ["classifier"])


def test_a_network_without_stages_is_refused_with_the_field():
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with pytest.raises(EdgeshipError, match="distill.exits: found no stages"):
        find_exits(mlp, torch.zeros(1, 1, 8, 8))


def test_loss_is_final_ce_plus_each_heads_ce_and_kd_from_the_final_output():
    torch.manual_seed(0)
    student = build_model("simple_cnn", 10, 1, 28, {"width": 4, "depth": 2})
    example = torch.zeros(1, 1, 28, 28)
    heads = ShallowExits(student, find_exits(student, example), 10, DistillConfig(scheme="self",
                                                                                  self_mode="deep_to_shallow"))
    x, labels = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    logits = student(x)
    total, parts = heads.loss(logits, labels, torch.arange(6), x, epoch=1)
    shallow = heads.method_module[0](heads.hooks.features()[0])
    t = SELF_TEMPERATURE  # by hand: KL(p_final || p_head) at T, times T^2
    p_final = torch.softmax(logits.detach() / t, 1)
    kl = (p_final * (torch.log(p_final) - torch.log_softmax(shallow / t, 1))).sum(1).mean() * t * t
    ce = torch.nn.functional.cross_entropy
    alpha = 0.3  # distill.exit_alpha's default, BYOT's weight
    expected = ce(logits, labels) + (1 - alpha) * ce(shallow, labels) + alpha * kl
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    total.backward()
    assert all(p.grad is not None for p in heads.method_module.parameters())
    heads.close()  # the exported student is the plain network: no hooks left on it
    heads.hooks.outputs.clear()
    student(x)
    assert heads.hooks.outputs == {}


@pytest.mark.parametrize("family", ["efficientnet_b0", "mobilenet_v3_small", "shufflenet_v2_x0_5", "convnext_tiny",
                                    "densenet121", "squeezenet1_1", "mnasnet0_5"])
def test_every_family_gets_three_exits_of_falling_resolution(family):
    exits = find_exits(getattr(torchvision.models, family)(num_classes=10), torch.zeros(1, 3, 64, 64))
    sizes = [e.shape[1] for e in exits.shallow] + [exits.deepest.shape[1]]
    assert len(exits.shallow) == 3 and sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
