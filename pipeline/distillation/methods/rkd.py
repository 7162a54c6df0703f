"""Relational knowledge distillation (Park et al. 2019), distance and angle terms, on each hooked layer pair
(pooled to one embedding per sample; the CRD benchmark uses the penultimate features)."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.methods.base import Method, register
from edgeship.pipeline.distillation.relation import rkd_angle_loss, rkd_distance_loss

DISTANCE_WEIGHT, ANGLE_WEIGHT = 25.0, 50.0  # the paper's RKD-DA weights


@register
class RelationalKD(Method):
    name = "rkd"
    display = "RKD"
    default_beta = 1.0  # CRD benchmark code: the two terms carry the paper's weights
    needs_layers = True
    auto_balance = True
    tasks = ("classification",)  # per-sample embeddings: a segmentation batch holds few, large samples

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(DISTANCE_WEIGHT * rkd_distance_loss(s, t) + ANGLE_WEIGHT * rkd_angle_loss(s, t)
                   for s, t in zip(s_feats, t_feats))
