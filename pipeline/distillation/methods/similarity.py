"""Similarity-preserving KD (Tung & Mori 2019) on each hooked layer pair."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.methods.base import Method, register
from edgeship.pipeline.distillation.relation import similarity_preserving_loss


@register
class SimilarityPreserving(Method):
    name = "sp"
    display = "SP"
    default_beta = 3000.0  # CRD benchmark code
    needs_layers = True
    auto_balance = True

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(similarity_preserving_loss(s, t) for s, t in zip(s_feats, t_feats))
