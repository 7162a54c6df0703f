"""Information-theoretic distillation losses: variational information distillation (VID) and the contrastive
representation distillation (CRD) objective with its memory bank."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.distillation.feature import match_spatial
from edgeship.pipeline.distillation.relation import embedding


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """-log N(target | mean, variance) without the constant, averaged over elements (VID's objective)."""
    return 0.5 * (torch.log(variance) + (mean - target).pow(2) / variance).mean()


class VariationalRegressor(nn.Module):
    """Ahn et al. 2019: a small 1x1-conv network predicts the teacher's feature map from the student's (the
    mean), and one learned variance per teacher channel (softplus, starting at 5 as in the paper's code)."""

    def __init__(self, student_channels: int, teacher_channels: int, initial_variance: float = 5.0,
                 eps: float = 1e-5):
        super().__init__()
        mid = max(student_channels, teacher_channels)
        self.mean = nn.Sequential(nn.Conv2d(student_channels, mid, 1), nn.ReLU(), nn.Conv2d(mid, mid, 1), nn.ReLU(),
                                  nn.Conv2d(mid, teacher_channels, 1))
        self.eps = eps
        start = math.log(math.expm1(initial_variance - eps))  # softplus^-1
        self.log_scale = nn.Parameter(torch.full((teacher_channels,), start))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        student, teacher = match_spatial(student, teacher)
        variance = (F.softplus(self.log_scale) + self.eps).view(1, -1, 1, 1)
        return gaussian_nll(self.mean(student), teacher, variance)


def nce_loss(scores: torch.Tensor, samples: int) -> torch.Tensor:
    """CRD's noise-contrastive estimate (Tian et al. 2020, eq. 18). `scores` (batch, 1 + K): each sample's
    unnormalized probability for its positive (column 0) and K negatives drawn uniformly from `samples`; noise
    probability Pn = 1/samples. Positive: log P / (P + K Pn); negatives: log K Pn / (P + K Pn)."""
    k = scores.shape[1] - 1
    noise = k / samples
    positive = torch.log(scores[:, 0] / (scores[:, 0] + noise))
    negative = torch.log(noise / (scores[:, 1:] + noise)).sum(dim=1)
    return -(positive + negative).mean()


class ContrastiveMemory(nn.Module):
    """CRD's two memory banks of momentum-averaged, L2-normalized embeddings, one row per training sample. The
    student's embedding is contrasted with the teacher bank's rows (its own sample positive, K random ones
    negative), the teacher's with the student bank's; the normalizing constant Z is estimated once, on the
    first batch, as in the paper's code."""

    def __init__(self, student_dim: int, teacher_dim: int, dim: int = 128, negatives: int = 4096,
                 temperature: float = 0.07, momentum: float = 0.5):
        super().__init__()
        self.embed_student, self.embed_teacher = nn.Linear(student_dim, dim), nn.Linear(teacher_dim, dim)
        self.dim, self.negatives, self.temperature, self.momentum = dim, negatives, temperature, momentum
        self.register_buffer("memory_student", torch.empty(0, dim))
        self.register_buffer("memory_teacher", torch.empty(0, dim))
        self.register_buffer("z", torch.zeros(2))  # Z of each direction, 0 until the first batch sets it

    def bind(self, samples: int) -> None:
        stdv = 1.0 / math.sqrt(self.dim / 3)
        device = self.embed_student.weight.device
        self.memory_student = torch.rand(samples, self.dim, device=device) * 2 * stdv - stdv
        self.memory_teacher = torch.rand(samples, self.dim, device=device) * 2 * stdv - stdv

    def _scores(self, anchor: torch.Tensor, memory: torch.Tensor, indices: torch.Tensor, negatives: torch.Tensor,
                side: int) -> torch.Tensor:
        """(batch, 1 + K): exp(anchor . row / tau) / Z for the sample's own row, then the K negative rows. The
        negatives are shared by the batch (one (K, dim) gather instead of the paper's (batch, K, dim) one: the
        same estimator, 128x less memory traffic, which is what makes CRD affordable on a CPU)."""
        memory = memory.detach()
        positive = (memory[indices] * anchor).sum(dim=1, keepdim=True)
        scores = torch.exp(torch.cat([positive, anchor @ memory[negatives].t()], dim=1) / self.temperature)
        if self.z[side] == 0:
            self.z[side] = scores.mean().detach() * len(memory)
        return scores / float(self.z[side])

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        samples = len(self.memory_student)
        s = F.normalize(self.embed_student(embedding(student).float()), dim=1)
        t = F.normalize(self.embed_teacher(embedding(teacher).float()), dim=1)
        negatives = torch.randint(0, samples, (min(self.negatives, samples - 1),), device=s.device)
        loss = (nce_loss(self._scores(s, self.memory_teacher, indices, negatives, 0), samples)
                + nce_loss(self._scores(t, self.memory_student, indices, negatives, 1), samples))
        with torch.no_grad():  # momentum update of this batch's rows
            for memory, new in ((self.memory_student, s), (self.memory_teacher, t)):
                memory[indices] = F.normalize(memory[indices] * self.momentum + new * (1 - self.momentum), dim=1)
        return loss
