"""Post-processing of detection heads in numpy: the same code on the host and on a device, so every
runtime is compared on like work (raw head outputs in, detections out).

Point heads (the built-in detector, pipeline/models/detector.py; torchvision's FCOS), classes on axis 1 as for
every task: class logits (N, C, P), box distances (N, 4, P) = left, top, right, bottom in input pixels from each
point, centerness logits (N, 1, P). The P points run over the levels in stride order, row-major within a level,
at (x + 0.5) * stride. Anchor heads (torchvision's RetinaNet) return two tensors: targets/agent/anchors.py. The
layout follows from the number of outputs and the input size from their length, so nothing else has to travel.
"""
from __future__ import annotations

import math

import numpy as np

from .anchors import ANCHORS_PER_CELL, anchor_grid, delta_boxes

STRIDES = (8, 16, 32)
SCORE_THRESHOLD = 0.05   # COCO practice: low, so the precision-recall curve reaches far
CANDIDATES = 1000        # top-k scores kept before NMS
NMS_IOU = 0.6
MAX_DETECTIONS = 100


def input_size(points: int, strides=STRIDES) -> int:
    """The square input side whose levels hold `points` points in all."""
    side = round(math.sqrt(points / sum(1.0 / s ** 2 for s in strides)))
    if sum(math.ceil(side / s) ** 2 for s in strides) != points:
        raise ValueError(f"{points} points fit no square input for strides {strides}")
    return side


def point_grid(side: int, strides=STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """(P, 2) point centres (x, y) in input pixels and (P,) the stride of each point's level."""
    centres, level_strides = [], []
    for stride in strides:
        cells = math.ceil(side / stride)
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres.append(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32) * stride + stride / 2)
        level_strides.append(np.full(cells * cells, stride, np.float32))
    return np.concatenate(centres), np.concatenate(level_strides)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int = MAX_DETECTIONS,
        classes: np.ndarray | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first, at most `limit` of them; with `classes`,
    a box suppresses only boxes of its own class. Each class's IoU matrix is computed at once and its candidates
    passed over best first, then the classes' picks merged best first: the same picks in the same order as one
    greedy pass over all boxes, at a third of its time (one numpy round per candidate, not eight per pick)."""
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    groups = np.zeros(len(scores), dtype=np.int64) if classes is None else np.asarray(classes)
    picks = [_greedy(boxes, order[groups[order] == group], iou, limit) for group in np.unique(groups)]
    if not picks:
        return np.zeros(0, dtype=np.int64)
    picks = np.concatenate(picks)
    return picks[np.argsort(rank[picks], kind="stable")][:limit]


def _greedy(boxes: np.ndarray, members: np.ndarray, iou: float, limit: int) -> np.ndarray:
    """Greedy NMS over `members` (indices, best first): the ones kept."""
    b = boxes[members]
    inter = (np.clip(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None)
             * np.clip(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None))
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    over = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-9) > iou
    removed = np.zeros(len(members), dtype=bool)
    kept: list[int] = []
    for i in range(len(members)):
        if removed[i]:
            continue
        kept.append(i)
        if len(kept) == limit:
            break
        removed |= over[i]
    return members[kept]


def head_side(outputs) -> int:
    """The square input side behind a head's raw outputs; the layout is in their count: three tensors are a
    point head's (class logits, distances, centerness), two an anchor head's (class logits, deltas:
    targets/agent/anchors.py)."""
    count = outputs[0].shape[2]
    if len(outputs) == 3:
        return input_size(count)
    if len(outputs) == 2 and count % ANCHORS_PER_CELL == 0:
        return input_size(count // ANCHORS_PER_CELL)
    raise ValueError(f"a detection head returns 3 tensors (class logits, distances, centerness) or 2 (class "
                     f"logits, box deltas, {ANCHORS_PER_CELL} anchors a cell); got {len(outputs)} of shapes "
                     f"{[tuple(o.shape) for o in outputs]}")


def decode(outputs, limit: int = MAX_DETECTIONS) -> list:
    """Per image: (K <= limit, 6) rows of x1, y1, x2, y2, score, class, best first (class-aware NMS)."""
    side = head_side(outputs)
    anchored = len(outputs) == 2
    places = anchor_grid(side, STRIDES) if anchored else point_grid(side)[0]
    out = []
    for image in zip(*outputs):
        # RetinaNet ranks by class score, FCOS by class score x centerness
        scores = _sigmoid(image[0]) if anchored else np.sqrt(_sigmoid(image[0]) * _sigmoid(image[2]))  # (C, P)
        classes, where = np.nonzero(scores > SCORE_THRESHOLD)
        values = scores[classes, where]
        top = np.argsort(-values, kind="stable")[:CANDIDATES]
        classes, where, values = classes[top], where[top], values[top]
        if anchored:
            boxes = delta_boxes(image[1][:, where], places[where])
        else:
            boxes = np.concatenate([places[where] - image[1][:2, where].T, places[where] + image[1][2:, where].T], 1)
        boxes = np.clip(boxes, 0, side)
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # a box wholly outside clips to nothing
        boxes, values, classes = boxes[inside], values[inside], classes[inside]
        keep = nms(boxes, values, NMS_IOU, limit, classes)  # class-aware
        out.append(np.concatenate([boxes[keep], values[keep, None], classes[keep, None]], 1).astype(np.float32))
    return out


class Detections:
    """The device half of detection's metric: decode every image's raw head outputs (timed as post-processing)
    and send the detections back; the host scores them with pycocotools (pipeline/tasks/detection.py), which a
    device does not carry."""
    all_outputs = True

    def __init__(self):
        self.found: list[list[list[float]]] = []

    @staticmethod
    def postprocess(outputs: list[np.ndarray]) -> list[np.ndarray]:
        return decode(outputs)

    def update(self, detections: list[np.ndarray], targets) -> None:
        self.found.extend(np.round(rows, 3).tolist() for rows in detections)

    def result(self) -> dict:
        return {"accuracy": None, "detections": self.found}
