"""Losses on logits: Hinton KD, Decoupled KD and DIST."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al. 2015: KL(teacher_T || student_T) * T^2, so gradients keep their scale as T changes.
    Dense outputs (N, C, H, W) are distilled per pixel, averaged over pixels (pixel-wise KD)."""
    if student_logits.dim() > 2:
        classes = student_logits.shape[1]
        student_logits = student_logits.movedim(1, -1).reshape(-1, classes)
        teacher_logits = teacher_logits.movedim(1, -1).reshape(-1, classes)
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True) * temperature ** 2


def dkd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
             temperature: float, alpha: float, beta: float) -> torch.Tensor:
    """Zhao et al. 2022: KD split into target-class KD (binary: target vs rest) and non-target-class KD
    (the distribution over the other classes), weighted alpha * TCKD + beta * NCKD."""
    t = temperature
    target = F.one_hot(labels, student_logits.shape[1]).bool()
    p_s = F.softmax(student_logits / t, dim=1)
    p_t = F.softmax(teacher_logits / t, dim=1)
    binary_s = torch.stack([(p_s * target).sum(1), (p_s * ~target).sum(1)], dim=1).clamp_min(1e-12)
    binary_t = torch.stack([(p_t * target).sum(1), (p_t * ~target).sum(1)], dim=1).clamp_min(1e-12)
    tckd = F.kl_div(binary_s.log(), binary_t, reduction="batchmean") * t ** 2
    # Mask the target class out with a large negative logit, then compare the remaining distributions.
    mask = target.float() * 1000.0
    log_q_s = F.log_softmax(student_logits / t - mask, dim=1)
    q_t = F.softmax(teacher_logits / t - mask, dim=1)
    nckd = F.kl_div(log_q_s, q_t, reduction="batchmean") * t ** 2
    return alpha * tckd + beta * nckd


def _pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of a with the same row of b."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Huang et al. 2022 (DIST): match relations instead of exact probabilities, which tolerates a much stronger
    teacher: inter-class (1 - Pearson correlation of each image's class probabilities) plus intra-class (1 -
    Pearson correlation of each class's probabilities across the batch), both at temperature T, times T^2."""
    t = temperature
    p_s = F.softmax(student_logits / t, dim=1)
    p_t = F.softmax(teacher_logits / t, dim=1)
    inter = 1 - _pearson_rows(p_s, p_t).mean()
    intra = 1 - _pearson_rows(p_s.T, p_t.T).mean()
    return (inter + intra) * t ** 2
