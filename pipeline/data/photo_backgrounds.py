"""Photographic backgrounds for the built-in scenes: crops of the two photographs that ship inside scikit-learn
(sklearn.datasets.load_sample_images: a temple in China and a flower, 640x427 RGB), never downloaded.

Training scenes crop the upper 60% of each photograph, test scenes the lower 40%, so the test split's clutter is
not the training split's. Each crop has its own position, size (one to three canvases wide) and mirror.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_SHARE = 0.6  # the photographs' upper part gives training backgrounds, the rest test backgrounds


def _photographs() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().images)  # (H, W, 3) uint8 each


def photo_backgrounds(count: int, canvas: int, seed: int, test: bool) -> np.ndarray:
    """`count` RGB backgrounds (count, 3, canvas, canvas) uint8, from the training or the test part."""
    rng = np.random.default_rng(seed)
    parts = []
    for photo in _photographs():
        cut = int(photo.shape[0] * TRAIN_SHARE)
        parts.append(photo[cut:] if test else photo[:cut])
    out = np.empty((count, 3, canvas, canvas), dtype=np.uint8)
    for n in range(count):
        part = parts[int(rng.integers(len(parts)))]
        height, width = part.shape[:2]
        side = int(rng.integers(min(canvas, height), min(3 * canvas, height, width) + 1))
        y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = torch.from_numpy(np.ascontiguousarray(part[y:y + side, x:x + side])).permute(2, 0, 1)[None].float()
        crop = F.interpolate(crop, size=(canvas, canvas), mode="bilinear", align_corners=False, antialias=True)[0]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        out[n] = crop.round().clamp(0, 255).to(torch.uint8).numpy()
    return out
