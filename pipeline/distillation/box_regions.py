"""Where the ground-truth boxes fall on a feature map: the detection distillation methods that treat object and
background locations apart (fg/bg imitation, FGD) build their masks from it."""
from __future__ import annotations

import math

import torch

from edgeship.pipeline.tasks.detection import counted


def box_cells(targets: list[torch.Tensor], side: int, height: int, width: int):
    """(image, y1, y2, x1, x2) map cells of every box to train on (ignored boxes left out), at least one cell."""
    scale_y, scale_x = height / side, width / side
    for n, rows in enumerate(targets):
        for _, x1, y1, x2, y2 in counted(rows)[:, :5].tolist():
            top, left = min(int(y1 * scale_y), height - 1), min(int(x1 * scale_x), width - 1)
            yield (n, top, max(top + 1, math.ceil(y2 * scale_y)), left, max(left + 1, math.ceil(x2 * scale_x)))


def box_masks(targets: list[torch.Tensor], side: int, height: int, width: int, device) -> torch.Tensor:
    """(N, 1, H, W): 1 where a map location falls inside a box."""
    mask = torch.zeros(len(targets), 1, height, width, device=device)
    for n, y1, y2, x1, x2 in box_cells(targets, side, height, width):
        mask[n, 0, y1:y2, x1:x2] = 1.0
    return mask


def scale_masks(targets: list[torch.Tensor], side: int, height: int, width: int, device
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """FGD's scale masks (N, 1, H, W): inside a box 1 / its area in cells (the smaller box where two overlap), so
    every object weighs the same whatever its size; outside, 1 / the image's background cells."""
    fg = torch.zeros(len(targets), 1, height, width, device=device)
    for n, y1, y2, x1, x2 in box_cells(targets, side, height, width):
        region = fg[n, 0, y1:y2, x1:x2]
        fg[n, 0, y1:y2, x1:x2] = torch.maximum(region, torch.full_like(region, 1.0 / ((y2 - y1) * (x2 - x1))))
    bg = (fg == 0).float()
    bg = bg / bg.sum((2, 3), keepdim=True).clamp(min=1.0)
    return fg, bg
