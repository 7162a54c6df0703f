"""A toy distillation-method plug-in (docs/extending.md): logit regression (Ba & Caruana 2014, "Do deep nets
really need to be deep?"): the mean squared difference of student and teacher logits, before any softmax."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from edgeship.pipeline.distillation.methods.base import Method, register


@register
class LogitRegression(Method):
    name = "logit-mse"
    display = "logit regression"
    default_beta = 0.1

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return F.mse_loss(s_logits, t_logits)
