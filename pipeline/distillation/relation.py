"""Relation-based distillation: similarity-preserving KD, relational KD (distances, angles), PKT."""
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


def embedding(features: torch.Tensor) -> torch.Tensor:
    """One vector per sample: feature maps (N, C, H, W) pooled over space, anything else flattened."""
    return features.mean(dim=(2, 3)) if features.dim() == 4 else features.flatten(1)


def rkd_distance_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Park et al. 2019, distance-wise RKD: pairwise Euclidean distances, each set divided by its mean
    (so the two embeddings need not share a scale or a width), compared with the Huber (smooth L1) loss."""
    def normalized(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        off = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
        return d / d[off].mean().clamp(min=1e-12)

    s, t = embedding(student), embedding(teacher)
    with torch.no_grad():
        target = normalized(t)
    return F.smooth_l1_loss(normalized(s), target)


def rkd_angle_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Park et al. 2019, angle-wise RKD: the cosine of the angle each triplet (i, j, k) makes at j, compared
    with the Huber loss."""
    def angles(x: torch.Tensor) -> torch.Tensor:
        unit = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), dim=2)  # [j, i]: unit vector from j to i
        return torch.bmm(unit, unit.transpose(1, 2)).flatten()

    s, t = embedding(student), embedding(teacher)
    with torch.no_grad():
        target = angles(t)
    return F.smooth_l1_loss(angles(s), target)


def pkt_loss(student: torch.Tensor, teacher: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Passalis & Tefas 2018, probabilistic knowledge transfer: each sample's cosine-similarity kernel to the
    others, made a probability distribution ((cos + 1) / 2, rows summing to 1), and KL(teacher || student)."""
    def conditional(x: torch.Tensor) -> torch.Tensor:
        unit = F.normalize(x, dim=1)
        kernel = (unit @ unit.t() + 1.0) / 2.0
        return kernel / kernel.sum(dim=1, keepdim=True)

    s, t = conditional(embedding(student)), conditional(embedding(teacher)).detach()
    return (t * torch.log((t + eps) / (s + eps))).sum(dim=1).mean()
