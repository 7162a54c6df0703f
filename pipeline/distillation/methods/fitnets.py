"""FitNets (Romero et al. 2015): hints through learned regressors, with optional stage-1 hint epochs."""
from __future__ import annotations

import torch
from torch import nn

from pipeline.distillation.feature import HintLoss
from pipeline.distillation.methods.base import Method, register


@register
class FitNets(Method):
    name = "fitnets"
    display = "FitNets"
    default_beta = 100.0  # CRD benchmark code
    needs_layers = True
    auto_balance = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.hints = nn.ModuleList()

    @property
    def hint_epochs(self) -> int:
        return 1 if self.cfg.hint_epochs is None else self.cfg.hint_epochs  # the paper: hints first, then KD

    def setup(self, student_features, teacher_features) -> None:
        for s, t in zip(student_features, teacher_features):
            self.hints.append(HintLoss(s.shape[1], t.shape[1]))

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(hint(s, t) for hint, s, t in zip(self.hints, s_feats, t_feats))
