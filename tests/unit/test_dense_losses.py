"""The dense losses against hand-computed values; class weights from pixel frequencies; 255 ignored by all."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgeship.pipeline.config.loss import LossConfig
from edgeship.pipeline.tasks.dense_losses import (
    MAX_WEIGHT,
    class_weights,
    cross_entropy,
    dice_cross_entropy,
    focal,
    make_loss,
    ohem_cross_entropy,
)


def batch():
    torch.manual_seed(0)
    outputs = torch.randn(2, 3, 4, 4)
    masks = torch.randint(0, 3, (2, 4, 4))
    masks[0, 0] = 255
    return outputs, masks


def test_median_frequency_weights_favour_rare_classes_and_are_clipped():
    masks = [np.array([[0, 0, 0, 0], [0, 0, 1, 255]], np.uint8), np.array([[0, 0, 2, 2]], np.uint8)]
    # pixels: class 0: 8, class 1: 1, class 2: 2 (255 ignored); median frequency is class 2's
    weights = class_weights(masks, 4)
    assert weights[0] == pytest.approx(2 / 8) and weights[1] == pytest.approx(2.0) and weights[2] == 1.0
    assert weights[3] == MAX_WEIGHT  # never seen


def test_ohem_keeps_the_hard_pixels_or_the_minimum_share():
    outputs, masks = batch()
    per_pixel = F.cross_entropy(outputs, masks, ignore_index=255, reduction="none")[masks != 255]
    hard = per_pixel[per_pixel > -math.log(0.7)]
    assert ohem_cross_entropy(0.7, 0.1)(outputs, masks).item() == pytest.approx(hard.mean().item())
    everything = ohem_cross_entropy(0.01, 1.0)(outputs, masks)  # nothing below 1%: the whole minimum share
    assert everything.item() == pytest.approx(per_pixel.mean().item())


def test_focal_with_gamma_zero_is_cross_entropy_and_dice_adds_to_it():
    outputs, masks = batch()
    assert focal(0.0)(outputs, masks).item() == pytest.approx(cross_entropy(outputs, masks).item(), rel=1e-5)
    assert focal(2.0)(outputs, masks).item() < cross_entropy(outputs, masks).item()
    perfect = F.one_hot(masks.clamp(0, 2), 3).permute(0, 3, 1, 2).float() * 50
    assert dice_cross_entropy(perfect, masks).item() < 1e-3  # right everywhere: no CE, Dice 1
    assert dice_cross_entropy(outputs, masks).item() > cross_entropy(outputs, masks).item()


def test_make_loss_records_what_it_chose():
    class Split:
        def native_masks(self):
            yield np.array([[0, 0, 0, 1]], np.uint8)

    loss, record = make_loss(LossConfig(kind="weighted-ce", class_weight_power=1.0), Split(), 2)
    # frequencies 3/4 and 1/4, median 1/2: weights 2/3 and 2 (full balancing), their square roots by default
    assert record == {"kind": "weighted-ce", "power": 1.0, "class_weights": [pytest.approx(2 / 3, abs=1e-4), 2.0]}
    softened = make_loss(LossConfig(kind="weighted-ce"), Split(), 2)[1]
    assert softened["class_weights"] == [pytest.approx((2 / 3) ** 0.5, abs=1e-4), pytest.approx(2 ** 0.5, abs=1e-4)]
    outputs, masks = torch.zeros(1, 2, 1, 4), torch.tensor([[[0, 0, 0, 1]]])
    assert loss(outputs, masks).item() == pytest.approx(math.log(2), rel=1e-5)  # uniform outputs: ln 2 anyway
    assert make_loss(LossConfig(kind="focal", focal_gamma=1.5), Split(), 2)[1] == {"kind": "focal", "gamma": 1.5}


def test_a_model_that_predicts_one_class_everywhere_is_named_with_the_levers():
    from edgeship.pipeline.training.health import one_class
    from edgeship.targets.agent import segmentation_scores

    confusion = np.array([[800, 0, 0], [100, 0, 0], [99, 0, 1]])  # truth rows, predicted columns
    line = one_class(segmentation_scores(confusion), ["background", "cat", "dog"])
    assert line.startswith("it predicts 'background' on 99.9% of the validation pixels (truly 80.0%)")
    assert "loss.kind weighted-ce" in line
    spread = np.array([[700, 100, 0], [0, 100, 0], [0, 0, 100]])
    assert one_class(segmentation_scores(spread), ["background", "cat", "dog"]) is None
    assert one_class(segmentation_scores(np.array([[1000, 0], [1, 0]])), ["background", "x"]) is None  # truly all
    mostly = np.array([[940, 0], [20, 40]])  # 96% predicted background where 94% is: it finds most of the rest
    assert one_class(segmentation_scores(mostly), ["background", "x"]) is None


def test_poly_schedule_decays_to_zero_after_the_warm_up():
    from edgeship.pipeline.training.loop import POLY_POWER, _schedule

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = _schedule(optimizer, steps=12, warmup=2, kind="poly")
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.1) and rates[2] == pytest.approx(1.0)  # warm-up from a tenth
    assert rates[7] == pytest.approx((1 - 5 / 10) ** POLY_POWER)
    assert rates[-1] < rates[-2] < rates[3]
