"""Training that says what went wrong: a loss that sits at a constant output's value, or is not a number, stops
the student with one line naming the levers, and the student is reported unfit."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.training.health import constant_output_loss, stalled
from edgeship.pipeline.training.loop import train


def _rows(*ce: float) -> list[dict]:
    return [{"epoch": i + 1, "loss": c, "ce": c} for i, c in enumerate(ce)]


def test_the_constant_output_loss_is_the_labels_entropy():
    assert constant_output_loss([0, 1, 2, 3] * 5) == pytest.approx(math.log(4))
    assert constant_output_loss([0, 0, 0, 1]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert constant_output_loss(None) is None and constant_output_loss([[0, 1], [1, 0]]) is None  # masks


def test_stall_and_nan_by_hand():
    ln10 = math.log(10)
    assert stalled(_rows(2.31), ln10, "adam", 0.05) is None  # one epoch there is not yet a verdict
    assert stalled(_rows(1.2, 2.31), ln10, "adam", 0.05) is None
    found = stalled(_rows(2.9, 2.30, 2.31), ln10, "adam", 0.05)
    assert "constant output's (2.3026" in found and "epochs 2-3" in found and "learning rate (0.05 with adam)" in found
    assert "the training loss became nan in epoch 1" in stalled(_rows(float("nan")), ln10, "sgd", 10.0)
    assert stalled(_rows(0.0, 0.0), ln10, "sgd", 0.05) is None  # FitNets' hint epochs: no cross entropy yet


def test_a_network_stuck_at_a_constant_output_stops_early_and_says_why():
    """Every ReLU of the hidden layer is dead (a bias far below any input), so only the output bias learns: the
    network answers the same for every image, on any CPU, and its loss settles at the labels' entropy."""
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    torch.manual_seed(0)
    hidden = nn.Linear(64, 32)
    nn.init.constant_(hidden.bias, -1e4)
    model = nn.Sequential(nn.Flatten(), hidden, nn.ReLU(), nn.Linear(32, 10))
    history = train(model, data.train, data.val, TrainConfig(epochs=20, lr=0.05, optimizer="adam"), seed=0)
    assert len(history) < 20
    stopped = history[-1]["stopped"]
    assert "constant output" in stopped and "learning rate (0.05 with adam)" in stopped, stopped
    assert all("stopped" not in row for row in history[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["skip", "distill"])
def test_an_unfit_teacher_teaches_no_student_unless_the_recipe_says_so(tmp_path, setting):
    """A teacher at chance (a learning rate that moves nothing): no student is distilled from it, the scratch
    student trains even with distill.baseline false, and the report's first lines say why."""
    from edgeship.pipeline.config.recipe import parse_recipe
    from edgeship.pipeline.engine.optimize import optimize
    from tests.support.recipes import tiny_recipe_dict

    raw = tiny_recipe_dict(**{"teacher.train": {"epochs": 1, "lr": 1e-9, "optimizer": "sgd"},
                              "distill.baseline": False, "distill.unfit_teacher": setting, "prune.enabled": False,
                              "quantize.enabled": False, "export.formats": ["onnx"], "export.teacher": False,
                              "student.train.epochs": 2})
    report = optimize(parse_recipe(raw), tmp_path / "run")
    stages = {r.stage for r in report.results}
    notice = next((n for n in report.notices if n.startswith("The teacher is not fit to ship")), None)
    if setting == "skip":
        assert "student-kd" not in stages and "student-scratch" in stages
        assert notice is not None and "near chance" in notice and "distill.unfit_teacher" in notice
        assert report.ship_from == "student-scratch" and report.ship["onnx"].stage == "onnx-fp32"
    else:
        assert "student-kd" in stages and "student-scratch" not in stages and notice is None
