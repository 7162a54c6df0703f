"""Object detection: boxes and classes, a variable number per image; FCOS's loss (RetinaNet's for anchor heads:
pipeline/tasks/anchor_loss.py); COCO mAP from pycocotools.

Targets per image are rows (class, x1, y1, x2, y2[, ignore]) in input pixels (ignore 1: a crowd or difficult box,
neither trained on nor counted as missed). The model's outputs are the raw head of a point- or anchor-based detector
(targets/agent/detections.py: class logits first, classes on axis 1); the meter post-processes them with the same
numpy code the device agent runs, then scores with pycocotools' COCOeval (mAP50-95 is the metric; mAP50 and
per-class AP in the details), never a hand-written evaluation.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss

from edgeship.pipeline.core.contracts.data_sources import BOXES
from edgeship.pipeline.core.contracts.plugins import TASKS
from edgeship.pipeline.core.contracts.tasks import Task
from edgeship.pipeline.tasks.anchor_loss import anchor_loss, split_ignored
from edgeship.targets.agent.detections import CANDIDATES, MAX_DETECTIONS, decode, head_side, point_grid

CENTER_RADIUS = 1.5  # FCOS center sampling: positives within 1.5 strides of the box centre
RANGE_PER_STRIDE = 4  # a level takes boxes whose farthest side is within 4 strides (and beyond the finer level's)


def _assign(boxes: torch.Tensor, points: torch.Tensor, strides: torch.Tensor, classes: int):
    """Per point: one-hot class targets (P, C), its box (P, 4) and a positive mask (P,): the smallest box whose
    centre region holds the point and whose size suits the point's level."""
    count = len(points)
    onehot = torch.zeros(count, classes, device=points.device)
    if not len(boxes):
        return onehot, torch.zeros(count, 4, device=points.device), torch.zeros(count, dtype=torch.bool,
                                                                                 device=points.device)
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1, x2, y2 = (boxes[:, i + 1][None] for i in range(4))
    sides = torch.stack([x - x1, y - y1, x2 - x, y2 - y], 2)                       # (P, M, 4)
    radius = CENTER_RADIUS * strides[:, None]
    near_centre = ((x - (x1 + x2) / 2).abs() < radius) & ((y - (y1 + y2) / 2).abs() < radius)
    farthest = sides.max(2).values
    upper = RANGE_PER_STRIDE * strides[:, None]
    lower = torch.where(strides[:, None] == strides.min(), 0.0, upper / 2)
    last = strides[:, None] == strides.max()
    fits = (farthest > lower) & ((farthest <= upper) | last)
    candidate = (sides.min(2).values > 0) & near_centre & fits
    area = ((x2 - x1) * (y2 - y1)).expand(count, -1).masked_fill(~candidate, float("inf"))
    best = area.argmin(1)
    positive = candidate.any(1)
    onehot[positive, boxes[best[positive], 0].long()] = 1.0
    return onehot, boxes[best, 1:5], positive


def distance_boxes(points: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """Points (..., 2) and their distances to the left, top, right and bottom sides (..., 4) -> boxes x1, y1, x2,
    y2 (..., 4)."""
    return torch.cat([points - distances[..., :2], points + distances[..., 2:]], -1)


def counted(rows: torch.Tensor) -> torch.Tensor:
    """The rows to train on: a sixth column of 1 marks a box to ignore (COCO iscrowd, VOC difficult)."""
    return split_ignored(rows)[0]


def fcos_loss(outputs, targets: list[torch.Tensor]) -> torch.Tensor:
    """Focal loss on every point's classes, GIoU on the positives' boxes (weighted by their centerness target),
    BCE on their centerness; each normalized by the number of positives in the batch."""
    class_logits, distances, centerness = outputs
    side = head_side(outputs)
    grid, level = point_grid(side)
    points, strides = torch.from_numpy(grid).to(class_logits.device), torch.from_numpy(level).to(class_logits.device)
    assigned = [_assign(counted(t).to(class_logits.dtype), points, strides, class_logits.shape[1]) for t in targets]
    onehot = torch.stack([a[0] for a in assigned])                                  # (N, P, C)
    boxes = torch.stack([a[1] for a in assigned])                                   # (N, P, 4)
    positive = torch.stack([a[2] for a in assigned])                                # (N, P)
    positives = max(int(positive.sum()), 1)
    cls_loss = sigmoid_focal_loss(class_logits.transpose(1, 2), onehot, reduction="sum") / positives
    if not positive.any():
        return cls_loss + 0.0 * (distances.sum() + centerness.sum())
    pos_points = points.expand(len(targets), -1, -1)[positive]                       # (K, 2)
    dist = distances.transpose(1, 2)[positive]                                       # (K, 4)
    predicted = distance_boxes(pos_points, dist)
    truth = boxes[positive]
    sides = torch.cat([pos_points - truth[:, :2], truth[:, 2:] - pos_points], 1).clamp(min=1e-6)
    ctr_target = torch.sqrt((torch.minimum(sides[:, 0], sides[:, 2]) / torch.maximum(sides[:, 0], sides[:, 2]))
                            * (torch.minimum(sides[:, 1], sides[:, 3]) / torch.maximum(sides[:, 1], sides[:, 3])))
    box_loss = (generalized_box_iou_loss(predicted, truth, reduction="none") * ctr_target).sum() / \
        ctr_target.sum().clamp(min=1e-6)
    ctr_loss = F.binary_cross_entropy_with_logits(centerness[:, 0][positive], ctr_target, reduction="sum") / positives
    return cls_loss + box_loss + ctr_loss


def detection_loss(outputs, targets: list[torch.Tensor]) -> torch.Tensor:
    """The loss of the head's layout: FCOS's for a point head (three outputs), RetinaNet's for an anchor head."""
    return anchor_loss(outputs, targets) if len(outputs) == 2 else fcos_loss(outputs, targets)


def box_rows(rows: np.ndarray) -> np.ndarray:
    """An image's target rows as a 2-D array (an image without boxes may come as an empty 1-D one)."""
    return rows.reshape(-1, rows.shape[-1] if rows.ndim == 2 else 5)


def coco_map(truths: list[np.ndarray], detections: list[np.ndarray], num_classes: int, side: int) -> dict:
    """mAP50-95, mAP50 and per-class AP (percent) by pycocotools' COCOeval: ground truth rows (class, x1, y1, x2,
    y2) and detections (x1, y1, x2, y2, score, class) per image."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    annotations = []
    for image, rows in enumerate(truths):
        for row in rows:
            width, height = float(row[3] - row[1]), float(row[4] - row[2])
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": int(row[0]) + 1,
                                "bbox": [float(row[1]), float(row[2]), width, height], "area": width * height,
                                "iscrowd": int(len(row) > 5 and row[5] > 0)})
    found = [[image, d[0], d[1], d[2] - d[0], d[3] - d[1], d[4], d[5] + 1]
             for image, rows in enumerate(detections) for d in rows]
    if not annotations or not found:
        return {"accuracy": 0.0, "map": 0.0, "map50": 0.0, "per_class_ap": [0.0] * num_classes}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        truth = COCO()
        truth.dataset = {"images": [{"id": i, "width": side, "height": side} for i in range(len(truths))],
                         "annotations": annotations, "categories": [{"id": c + 1} for c in range(num_classes)]}
        truth.createIndex()
        scored = COCOeval(truth, truth.loadRes(np.asarray(found, dtype=np.float64)), "bbox")
        scored.evaluate()
        scored.accumulate()
        scored.summarize()
    precision = scored.eval["precision"][:, :, :, 0, -1]  # (iou, recall, class) at area all, 100 detections
    per_class = [float(np.mean(p[p > -1]) * 100) if (p > -1).any() else 0.0 for p in precision.transpose(2, 0, 1)]
    mean, at50 = (max(float(v), 0.0) * 100 for v in scored.stats[:2])
    return {"accuracy": mean, "map": mean, "map50": at50, "per_class_ap": per_class}


PARITY_SCORE = 0.3  # the confident detections a converted file must reproduce (and must not add)
PARITY_IOU = 0.5    # matched: same class and IoU at least this (COCO's loosest threshold)


def _found_in(mine: np.ndarray, theirs: np.ndarray) -> int:
    """How many of `mine`'s confident detections `theirs` also has (any score above the decode threshold)."""
    from torchvision.ops import box_iou

    confident = mine[mine[:, 4] >= PARITY_SCORE]
    if not len(confident) or not len(theirs):
        return 0
    iou = box_iou(torch.from_numpy(confident[:, :4]).float(), torch.from_numpy(theirs[:, :4]).float()).numpy()
    same_class = confident[:, 5:6] == theirs[None, :, 5]
    return int(((iou >= PARITY_IOU) & same_class).any(1).sum())


def box_parity(expected: list[np.ndarray], got: list[np.ndarray]) -> float:
    """% of the confident detections of either side that the other side also finds (decoded by the agent's code):
    torch's boxes the file misses and boxes the file adds both count against it; 100 where neither is confident.
    Each side's shipped detections (the best 100) are looked for among all the other side's, so near-equal scores
    that fall on either side of the 100th place do not count as a difference."""
    matched = total = 0
    # greedy NMS keeps its picks in order: the shipped 100 are the first 100 of all the picks
    for all_mine, all_theirs in zip(decode(expected, limit=CANDIDATES), decode(got, limit=CANDIDATES)):
        mine, theirs = all_mine[:MAX_DETECTIONS], all_theirs[:MAX_DETECTIONS]
        total += int((mine[:, 4] >= PARITY_SCORE).sum() + (theirs[:, 4] >= PARITY_SCORE).sum())
        matched += _found_in(mine, all_theirs) + _found_in(theirs, all_mine)
    return 100.0 * matched / total if total else 100.0


class MapMeter:
    """Keeps each image's ground truth and decoded detections; the mAP comes at the end, over them all."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.truths: list[np.ndarray] = []
        self.detections: list[np.ndarray] = []
        self.side = 0
        self.counts = np.zeros(0, dtype=np.int64)  # nothing to add across processes: the boxes stay with rank 0

    def update(self, outputs, targets: list[torch.Tensor]) -> None:
        arrays = [o.detach().float().cpu().numpy() for o in outputs]
        self.side = head_side(arrays)
        self.detections.extend(decode(arrays))
        self.truths.extend(box_rows(t.detach().cpu().numpy()) for t in targets)

    def value(self) -> float:
        return self.details()["map"]

    def details(self) -> dict:
        return coco_map(self.truths, self.detections, self.num_classes, self.side)


def score_on_host(figures: dict, targets, side: int, num_classes: int) -> dict:
    """mAP of the detections a device agent sent back (targets/agent/detections.py Detections) against the eval
    set's boxes: the same pycocotools evaluation as in training."""
    found = [np.asarray(rows, np.float32).reshape(-1, 6) for rows in figures.get("detections") or []]
    truths = [box_rows(np.asarray(t, np.float32)) for t in targets[0:len(targets)]]
    if len(found) != len(truths):
        raise ValueError(f"the agent sent detections for {len(found)} images, the eval set has {len(truths)}")
    return coco_map(truths, found, num_classes, side)


DETECTION = TASKS.register(Task(name="detection", metric="mAP50-95 %", loss=detection_loss,
                                predict_labels=lambda outputs: outputs[0].argmax(1), meter=MapMeter,
                                metric_name="mAP", targets=BOXES, per_image_metric=False, additive_counts=False,
                                device_metric="map", chance=lambda classes: 0.0, score_on_host=score_on_host,
                                distill_defaults=(("method", "cwd"), ("alpha", 0.0)), float_outputs=True,
                                train_metric_each_epoch=False, parity=box_parity,
                                parity_name="boxes matched (same class, IoU >= 0.5)"))
