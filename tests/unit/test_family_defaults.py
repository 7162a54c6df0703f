"""Training settings a recipe leaves open come from the model's structure: warm-up for zoo models, Adam for a
network without normalization layers (SGD at BatchNorm rates leaves SqueezeNet at chance), the optimizer's rate."""
from __future__ import annotations

import torchvision
from torch import nn

from edgeship.pipeline.config.recipe import TrainConfig
from edgeship.pipeline.models.zoo import SimpleCNN
from edgeship.pipeline.training.family_defaults import lr_meant_for, optimizer_mismatch, with_family_defaults


def test_a_network_without_normalization_gets_adam_and_its_rate():
    cfg = with_family_defaults(TrainConfig(epochs=3), torchvision.models.squeezenet1_1(num_classes=10))
    assert (cfg.optimizer, cfg.lr, cfg.warmup_epochs) == ("adam", 0.001, 1.0)


def test_a_batchnorm_network_gets_sgd_and_a_fifth_of_its_rate_when_fine_tuning():
    model = torchvision.models.resnet18(num_classes=10)
    assert (with_family_defaults(TrainConfig(epochs=3), model).optimizer, with_family_defaults(
        TrainConfig(epochs=3), model).lr) == ("sgd", 0.05)
    assert with_family_defaults(TrainConfig(epochs=3), model, finetune=True).lr == 0.05 * 0.2


def test_what_the_recipe_says_is_kept():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    cfg = with_family_defaults(TrainConfig(epochs=2, lr=0.2, optimizer="sgd", warmup_epochs=0.5), model)
    assert (cfg.optimizer, cfg.lr, cfg.warmup_epochs) == ("sgd", 0.2, 0.5)
    adam = with_family_defaults(TrainConfig(epochs=2, optimizer="adam"), SimpleCNN(10, 1, 8))
    assert (adam.lr, adam.warmup_epochs) == (0.001, 0.0)  # built-in models: no warm-up


def test_resolving_twice_changes_nothing():
    model = torchvision.models.mobilenet_v3_small(num_classes=10)
    once = with_family_defaults(TrainConfig(epochs=3), model, finetune=True)
    assert with_family_defaults(once, model) == once


def test_an_explicit_lr_keeps_the_optimizer_it_was_meant_for_and_says_so():
    """SqueezeNet has no normalization layers (auto: Adam), but lr 0.05 is an SGD rate: Adam at 0.05 sits at a
    constant output. The lr is not moved to Adam; one line says what the structure would have picked."""
    squeezenet = torchvision.models.squeezenet1_1(num_classes=10)
    assert lr_meant_for(0.05) == "sgd" and lr_meant_for(0.001) == "adam" and lr_meant_for(0.002) == "adam"
    assert lr_meant_for(0.01, finetune=True) == "sgd" and lr_meant_for(0.0005, finetune=True) == "adam"
    cfg = TrainConfig(epochs=3, lr=0.05)
    assert with_family_defaults(cfg, squeezenet).optimizer == "sgd"
    line = optimizer_mismatch(cfg, squeezenet)
    assert "lr 0.05 is a SGD rate" in line and "optimizer: adam with lr 0.001" in line and "\n" not in line
    assert optimizer_mismatch(TrainConfig(epochs=3, lr=0.001), squeezenet) is None  # rate and structure agree
    assert optimizer_mismatch(TrainConfig(epochs=3), squeezenet) is None  # nothing explicit
    assert optimizer_mismatch(TrainConfig(epochs=3, lr=0.05, optimizer="adam"), squeezenet) is None  # pinned
