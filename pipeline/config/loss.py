"""The recipe's loss section: the task's supervised term, the same for every model and distillation method."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgeship.pipeline.config.section import Section


class LossConfig(Section):
    # auto: the task's default (classification: ce; segmentation: see docs/segmentation.md). ce: plain
    # cross-entropy. Dense tasks also: weighted-ce (class weights from the training masks' pixel frequencies,
    # computed once and recorded), ohem (cross-entropy over the hardest pixels), dice-ce (soft Dice + CE), focal.
    kind: Literal["auto", "ce", "weighted-ce", "ohem", "dice-ce", "focal"] = "auto"
    # ohem: pixels whose probability of their true class is below this are kept ...
    ohem_threshold: float = Field(0.7, gt=0.0, lt=1.0)
    ohem_min_kept: float = Field(0.1, gt=0.0, le=1.0)  # ... and at least this share of the labelled pixels
    focal_gamma: float = Field(2.0, ge=0.0)  # focal: how much easy pixels are down-weighted
    # weighted-ce: weight_c = (median frequency / frequency_c) ** power; 1 is full median-frequency balancing
    # (over-predicts the rare classes), 0 is plain CE (see docs/segmentation.md for the measured choice)
    class_weight_power: float = Field(0.5, ge=0.0, le=1.0)
