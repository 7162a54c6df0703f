"""BatchNorm statistics after a short run: a momentum of 0.01 (torchvision's MobileNetV3) leaves them near their
initial values, and eval-mode accuracy at chance; re-estimating them on training images repairs it."""
import torch
from torch import nn

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.training.bn_recalibration import recalibrate, restore, snapshot
from edgeship.pipeline.training.health import problems
from edgeship.pipeline.training.loop import accuracy, train


def _slow_bn_net() -> nn.Module:
    torch.manual_seed(0)
    layers = []
    cin = 1
    for cout in (16, 32):
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, momentum=0.01), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


def test_recalibration_repairs_a_model_that_sits_at_chance_in_eval_mode():
    data = load_dataset(DataConfig(source="digits", mean=[0.0], std=[0.05]))  # far from BN's initial statistics
    model = _slow_bn_net()
    history = train(model, data.train, data.val, TrainConfig(epochs=6, lr=0.05, recalibrate_bn=0), seed=0)
    trained = history[-1]["train_acc"]
    before = accuracy(model, data.val)
    assert problems(before, trained, 10)  # the defect, reproduced
    saved = snapshot(model)
    assert recalibrate(model, data.train, 1000) == 1000
    after = accuracy(model, data.val)
    assert after >= trained - 10.0 and not problems(after, trained, 10), (before, after, trained)
    restore(model, saved)
    assert accuracy(model, data.val) == before
