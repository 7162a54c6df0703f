"""Decoupled KD (Zhao et al. 2022), ramped up over dkd_warmup epochs."""
from __future__ import annotations

import torch
from pydantic import Field

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.distillation.logit import dkd_loss
from edgeship.pipeline.distillation.methods.base import Method, register


class DkdSettings(Section):
    alpha: float = Field(1.0, ge=0.0)  # weight of the target-class term (TCKD)
    beta: float = Field(8.0, ge=0.0)  # weight of the non-target-class term (NCKD)
    warmup: int = Field(5, ge=0)  # epochs over which the DKD loss ramps up


@register
class DecoupledKD(Method):
    name = "dkd"
    tasks = ("classification",)  # its target/non-target split needs one label per image
    reads_temperature = True
    display = "DKD"
    default_beta = 1.0
    Settings = DkdSettings

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        s = self.settings
        warmup = min(1.0, epoch / max(1, s.warmup))
        return warmup * dkd_loss(s_logits, t_logits, labels, self.cfg.kd_temperature, s.alpha, s.beta)
