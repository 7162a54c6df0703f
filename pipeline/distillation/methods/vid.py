"""Variational information distillation (Ahn et al. 2019) on each hooked layer pair."""
from __future__ import annotations

import torch
from torch import nn

from pipeline.distillation.information import VariationalRegressor
from pipeline.distillation.methods.base import Method, register


@register
class VariationalInformation(Method):
    name = "vid"
    display = "VID"
    default_beta = 1.0  # CRD benchmark code
    needs_layers = True
    auto_balance = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.regressors = nn.ModuleList()

    def setup(self, student_features, teacher_features) -> None:
        for s, t in zip(student_features, teacher_features):
            self.regressors.append(VariationalRegressor(s.shape[1], t.shape[1]))

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(regressor(s, t.float()) for regressor, s, t in zip(self.regressors, s_feats, t_feats))
