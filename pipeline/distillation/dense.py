"""Losses for dense prediction (segmentation, detection heads): channel-wise distillation and pair-wise similarity.

Both compare maps of possibly different sizes: the larger is average-pooled to the smaller (match_spatial).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from edgeship.pipeline.core.contracts.tasks import first_output
from edgeship.pipeline.distillation.feature import match_spatial
from edgeship.targets.agent.anchors import ANCHORS_PER_CELL

PAIRWISE_NODES = 16  # pair-wise similarity on at most 16x16 nodes (each a pooled patch), as SKD pools its map


def channel_wise_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Shu et al. 2021 (CWD): each channel's map becomes a distribution over locations (softmax with T); the
    student matches the teacher's with KL, times T^2, averaged over batch and channels."""
    student, teacher = match_spatial(student, teacher)
    n, c = student.shape[:2]
    log_p_s = F.log_softmax(student.reshape(n * c, -1) / temperature, dim=1)
    log_p_t = F.log_softmax(teacher.reshape(n * c, -1) / temperature, dim=1)
    return F.kl_div(log_p_s, log_p_t, reduction="sum", log_target=True) * temperature ** 2 / (n * c)


def class_maps(student_outputs, teacher_outputs) -> tuple[torch.Tensor, torch.Tensor]:
    """The two models' class logits, comparable: as they are when their shapes agree (a segmentation map, heads
    of one layout); else an anchor head's (two outputs, (N, C, 9 P)) become per location (N, C, P), the best of
    each cell's anchors, so that a RetinaNet and an FCOS compare."""
    student, teacher = first_output(student_outputs), first_output(teacher_outputs)
    if student.shape == teacher.shape:
        return student, teacher

    def per_location(outputs, logits):
        if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
            return logits
        n, c, k = logits.shape
        return logits.reshape(n, c, k // ANCHORS_PER_CELL, ANCHORS_PER_CELL).amax(-1)
    return per_location(student_outputs, student), per_location(teacher_outputs, teacher)


def pairwise_similarity(features: torch.Tensor) -> torch.Tensor:
    """(N, L, L) cosine similarities between the L locations of a pooled map."""
    nodes = F.normalize(features.flatten(2), dim=1)  # (N, C, L), each location's vector of unit length
    return nodes.transpose(1, 2) @ nodes


def pairwise_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Liu et al. 2019 (SKD, pair-wise term): the student's similarity between every two locations matches the
    teacher's (squared difference, averaged over pairs); channel counts may differ."""
    student, teacher = match_spatial(student, teacher)
    h, w = student.shape[-2:]
    size = (min(h, PAIRWISE_NODES), min(w, PAIRWISE_NODES))
    student, teacher = F.adaptive_avg_pool2d(student, size), F.adaptive_avg_pool2d(teacher, size)
    return (pairwise_similarity(student) - pairwise_similarity(teacher)).pow(2).mean()
