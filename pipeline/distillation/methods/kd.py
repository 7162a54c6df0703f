"""Hinton KD alone: the logit term of every method, nothing of its own."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.methods.base import Method, register


@register
class HintonKD(Method):
    name = "kd"
    display = "KD"
    default_beta = 0.0

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return torch.zeros(())
