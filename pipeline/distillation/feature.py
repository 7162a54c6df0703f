"""Losses on intermediate feature maps: FitNets hints and attention transfer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def match_spatial(student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool the larger map down to the smaller one's size (both NCHW)."""
    hs, ht = student.shape[-2:], teacher.shape[-2:]
    size = (min(hs[0], ht[0]), min(hs[1], ht[1]))
    if hs != size:
        student = F.adaptive_avg_pool2d(student, size)
    if ht != size:
        teacher = F.adaptive_avg_pool2d(teacher, size)
    return student, teacher


class HintLoss(nn.Module):
    """FitNets (Romero et al. 2015): a learned 1x1-conv regressor maps the student's guided layer onto the
    teacher's hint layer; L2 between them."""

    def __init__(self, student_channels: int, teacher_channels: int):
        super().__init__()
        self.regressor = nn.Sequential(nn.Conv2d(student_channels, teacher_channels, 1, bias=False),
                                       nn.BatchNorm2d(teacher_channels))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        student, teacher = match_spatial(self.regressor(student), teacher)
        return F.mse_loss(student, teacher)


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """Zagoruyko & Komodakis 2017: channel-wise mean of squared activations, flattened and L2-normalized."""
    return F.normalize(features.pow(2).mean(1).flatten(1), dim=1)


def attention_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    student, teacher = match_spatial(student, teacher)
    return (attention_map(student) - attention_map(teacher)).pow(2).mean()
