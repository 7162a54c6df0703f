"""Decoupled KD (Zhao et al. 2022), ramped up over dkd_warmup epochs."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.logit import dkd_loss
from edgeship.pipeline.distillation.methods.base import Method, register


@register
class DecoupledKD(Method):
    name = "dkd"
    tasks = ("classification",)  # its target/non-target split needs one label per image
    display = "DKD"
    default_beta = 1.0

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        warmup = min(1.0, epoch / max(1, self.cfg.dkd_warmup))
        return warmup * dkd_loss(s_logits, t_logits, labels, self.cfg.kd_temperature, self.cfg.dkd_alpha,
                                 self.cfg.dkd_beta)
