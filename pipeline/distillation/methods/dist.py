"""DIST (Huang et al. 2022, "Knowledge Distillation from A Stronger Teacher"): inter- and intra-class relations of
the softened outputs, with the paper's CIFAR settings (T 4, beta = gamma = 2; used with alpha 0 in the paper)."""
from __future__ import annotations

import torch

from pipeline.distillation.logit import dist_loss
from pipeline.distillation.methods.base import Method, register


@register
class RelationalKD(Method):
    name = "dist"
    tasks = ("classification",)  # its intra-class term correlates whole-image outputs across the batch
    display = "DIST"
    default_beta = 2.0  # the paper's beta = gamma = 2 on its two terms

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return dist_loss(s_logits, t_logits, self.cfg.kd_temperature)
