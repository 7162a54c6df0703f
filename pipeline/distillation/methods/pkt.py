"""Probabilistic knowledge transfer (Passalis & Tefas 2018) on each hooked layer pair (pooled embeddings)."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.methods.base import Method, register
from edgeship.pipeline.distillation.relation import pkt_loss


@register
class ProbabilisticKT(Method):
    name = "pkt"
    display = "PKT"
    default_beta = 30000.0  # CRD benchmark code
    needs_layers = True
    auto_balance = True
    tasks = ("classification",)

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(pkt_loss(s, t) for s, t in zip(s_feats, t_feats))
