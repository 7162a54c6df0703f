"""Contrastive representation distillation (Tian et al. 2020) on each hooked layer pair (pooled embeddings; the
CRD benchmark uses the penultimate features), with the paper's memory bank of every training sample."""
from __future__ import annotations

import torch
from torch import nn

from edgeship.pipeline.distillation.information import ContrastiveMemory
from edgeship.pipeline.distillation.methods.base import Method, register
from edgeship.pipeline.distillation.relation import embedding


@register
class ContrastiveRepresentation(Method):
    name = "crd"
    display = "CRD"
    default_beta = 0.8  # CRD benchmark code
    needs_layers = True
    needs_indices = True
    auto_balance = True
    tasks = ("classification",)  # one embedding per image

    def __init__(self, cfg):
        super().__init__(cfg)
        self.memories = nn.ModuleList()

    def setup(self, student_features, teacher_features) -> None:
        for s, t in zip(student_features, teacher_features):
            self.memories.append(ContrastiveMemory(embedding(s).shape[1], embedding(t).shape[1]))

    def bind(self, train_samples: int) -> None:
        for memory in self.memories:
            memory.bind(train_samples)

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch, indices=None) -> torch.Tensor:
        return sum(memory(s, t, indices) for memory, s, t in zip(self.memories, s_feats, t_feats))
