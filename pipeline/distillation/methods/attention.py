"""Attention transfer (Zagoruyko & Komodakis 2017) on each hooked layer pair."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.feature import attention_loss
from edgeship.pipeline.distillation.methods.base import Method, register


@register
class AttentionTransfer(Method):
    name = "at"
    display = "AT"
    default_beta = 1000.0  # CRD benchmark code
    needs_layers = True
    auto_balance = True

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(attention_loss(s, t) for s, t in zip(s_feats, t_feats))
