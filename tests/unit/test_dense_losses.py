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

    loss, record = make_loss(LossConfig(kind="weighted-ce"), Split(), 2)
    # frequencies 3/4 and 1/4, median 1/2: weights 2/3 and 2
    assert record == {"kind": "weighted-ce", "class_weights": [pytest.approx(2 / 3, abs=1e-4), 2.0]}
    outputs, masks = torch.zeros(1, 2, 1, 4), torch.tensor([[[0, 0, 0, 1]]])
    assert loss(outputs, masks).item() == pytest.approx(math.log(2), rel=1e-5)  # uniform outputs: ln 2 anyway
    assert make_loss(LossConfig(kind="focal", focal_gamma=1.5), Split(), 2)[1] == {"kind": "focal", "gamma": 1.5}
