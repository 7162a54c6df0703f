"""RetinaNet's loss for anchor heads (targets/agent/anchors.py), with torchvision's own matcher and box coder:
an anchor is foreground at IoU >= 0.5 with a box (and the best anchor of every box is, however low), background
below 0.4, ignored between; focal loss over the anchors not ignored, L1 on the foreground's deltas; each image's
terms divided by its foreground count, then averaged over the batch (as torchvision's RetinaNet).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models.detection._utils import BoxCoder, Matcher
from torchvision.ops import box_iou, sigmoid_focal_loss

from edgeship.targets.agent.anchors import anchor_grid
from edgeship.targets.agent.detections import STRIDES, head_side

FOREGROUND_IOU, BACKGROUND_IOU = 0.5, 0.4
IGNORED = Matcher.BETWEEN_THRESHOLDS


def split_ignored(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An image's target rows: those to train on, and those a sixth column of 1 marks to ignore (COCO iscrowd,
    VOC difficult)."""
    if rows.shape[1] <= 5:
        return rows, rows[:0]
    return rows[rows[:, 5] == 0], rows[rows[:, 5] > 0]


def _match(counted: torch.Tensor, ignored: torch.Tensor, anchors: torch.Tensor, matcher: Matcher) -> torch.Tensor:
    """Per anchor: the index of its counted box, -1 (background) or IGNORED. Background anchors over an ignored
    box are ignored, not taught background."""
    matched = torch.full((len(anchors),), -1, dtype=torch.int64, device=anchors.device)
    if len(counted):
        matched = matcher(box_iou(counted[:, 1:5], anchors))
    if len(ignored):
        over_ignored = box_iou(ignored[:, 1:5], anchors).amax(0) >= BACKGROUND_IOU
        matched[(matched < 0) & over_ignored] = IGNORED
    return matched


def anchor_loss(outputs, targets: list[torch.Tensor]) -> torch.Tensor:
    class_logits, deltas = outputs
    anchors = torch.from_numpy(anchor_grid(head_side(outputs), STRIDES)).to(class_logits.device)
    matcher = Matcher(FOREGROUND_IOU, BACKGROUND_IOU, allow_low_quality_matches=True)
    coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    total = class_logits.new_zeros(())
    for logits, image_deltas, rows in zip(class_logits, deltas, targets):
        counted, ignored = split_ignored(rows.to(class_logits.dtype))
        matched = _match(counted, ignored, anchors, matcher)
        foreground = matched >= 0
        foregrounds = max(int(foreground.sum()), 1)
        onehot = torch.zeros_like(logits.T)                                  # (K, C)
        onehot[foreground, counted[matched[foreground], 0].long()] = 1.0
        valid = matched != IGNORED
        total = total + sigmoid_focal_loss(logits.T[valid], onehot[valid], reduction="sum") / foregrounds
        if foreground.any():
            truth = coder.encode_single(counted[matched[foreground], 1:5], anchors[foreground])
            total = total + F.l1_loss(image_deltas.T[foreground], truth, reduction="sum") / foregrounds
        else:
            total = total + 0.0 * image_deltas.sum()
    return total / max(len(targets), 1)
