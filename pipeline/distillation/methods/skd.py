"""Structured KD's pair-wise term (Liu et al. 2019) for segmentation, beside the pixel-wise KD term (alpha): on
each hooked layer pair from distill.layers, or on the logits when none is named."""
from __future__ import annotations

import torch

from edgeship.pipeline.distillation.dense import pairwise_loss
from edgeship.pipeline.distillation.methods.base import Method, register


@register
class StructuredKD(Method):
    name = "skd"
    display = "SKD pair-wise"
    default_beta = 1.0  # the paper's pair-wise weight
    tasks = ("segmentation",)
    optional_layers = True

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        if not s_feats:
            return pairwise_loss(s_logits, t_logits)
        return sum(pairwise_loss(s, t) for s, t in zip(s_feats, t_feats))
