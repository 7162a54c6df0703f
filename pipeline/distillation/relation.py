"""Relation-based distillation: similarity-preserving KD."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity_matrix(features: torch.Tensor) -> torch.Tensor:
    flat = features.flatten(1)
    return F.normalize(flat @ flat.t(), dim=1)


def similarity_preserving_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Tung & Mori 2019: samples that the teacher sees as similar should look similar to the student too.
    Compares the row-normalized batch Gram matrices; no constraint on channels or spatial size."""
    batch = student.shape[0]
    diff = similarity_matrix(student) - similarity_matrix(teacher)
    return diff.pow(2).sum() / (batch * batch)
