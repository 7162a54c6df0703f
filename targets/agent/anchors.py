"""Anchor-based heads in numpy (RetinaNet's layout, with torchvision's conventions, so that its checkpoints give
their own boxes): per cell of each level 9 anchors, 3 aspect ratios (0.5, 1, 2) x 3 octaves of a base size of 4
strides; box regression as deltas (dx, dy, dw, dh) to an anchor, weights 1.

The layout a split RetinaNet exports (pipeline/models/torchvision_detectors.py), classes on axis 1: class logits
(N, C, K) and box deltas (N, 4, K), K = 9 x the cells of strides 8, 16 and 32, ordered level, row, column,
anchor (torchvision's order); anchors centred at (x * stride, y * stride), as torchvision places them.
"""
from __future__ import annotations

import math

import numpy as np

OCTAVES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
RATIOS = (0.5, 1.0, 2.0)
ANCHORS_PER_CELL = len(OCTAVES) * len(RATIOS)
BASE_STRIDES = 4                       # an anchor's base size in strides (32 px at stride 8)
MAX_LOG_SCALE = math.log(1000.0 / 16)  # torchvision's clamp of dw, dh before exp


def cell_anchors(stride: int) -> np.ndarray:
    """(9, 4) anchors x1, y1, x2, y2 around (0, 0), ratio-major, rounded as torchvision's AnchorGenerator."""
    sizes = np.array([int(BASE_STRIDES * stride * octave) for octave in OCTAVES], np.float32)
    h_ratios = np.sqrt(np.array(RATIOS, np.float32))
    widths = ((1 / h_ratios)[:, None] * sizes[None, :]).ravel()
    heights = (h_ratios[:, None] * sizes[None, :]).ravel()
    return np.round(np.stack([-widths, -heights, widths, heights], 1) / 2)


def anchor_grid(side: int, strides) -> np.ndarray:
    """(K, 4) anchors of a square input of `side` pixels, in the order of the head's outputs."""
    grids = []
    for stride in strides:
        shifts = np.arange(math.ceil(side / stride), dtype=np.float32) * stride
        ys, xs = np.meshgrid(shifts, shifts, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel(), xs.ravel(), ys.ravel()], 1)
        grids.append((centres[:, None, :] + cell_anchors(stride)[None]).reshape(-1, 4))
    return np.concatenate(grids).astype(np.float32)


def delta_boxes(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Deltas (4, K) to their anchors (K, 4) -> boxes (K, 4), as torchvision's BoxCoder.decode_single."""
    widths, heights = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    centre_x, centre_y = anchors[:, 0] + 0.5 * widths, anchors[:, 1] + 0.5 * heights
    dx, dy = deltas[0], deltas[1]
    dw, dh = np.minimum(deltas[2], MAX_LOG_SCALE), np.minimum(deltas[3], MAX_LOG_SCALE)
    x, y = dx * widths + centre_x, dy * heights + centre_y
    half_w, half_h = 0.5 * np.exp(dw) * widths, 0.5 * np.exp(dh) * heights
    return np.stack([x - half_w, y - half_h, x + half_w, y + half_h], 1)
