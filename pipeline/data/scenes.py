"""The built-in `scenes` source: 2-4 real images (digits or Fashion-MNIST items) placed at random on a dark, noisy
canvas or on a photograph (data.scenes.backgrounds: photo; RGB, items in random colours), each pixel labelled with
its item's class (background 0). Nothing is downloaded; the same seed gives the same scenes.

Test scenes are made from items held out of the training scenes, so the test split measures images the model
never saw, not the same items at new places.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FOREGROUND = 0.3          # an item's pixel belongs to it from this fraction of full brightness up
BACKGROUND_NOISE = 40     # uniform noise 0..40 on the canvas, so "anything bright" is not the whole answer


def compose_scenes(items: np.ndarray, classes: np.ndarray, count: int, canvas: int, min_items: int,
                   max_items: int, seed: int, backgrounds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`count` scenes of `canvas` px from uint8 items (N, 1, h, w) with classes (N): images (count, C, canvas,
    canvas) and masks (count, canvas, canvas) of class + 1 per item pixel, 0 elsewhere. `backgrounds` (count, 3,
    canvas, canvas): photographs to paste on, each item tinted with a random bright colour (C = 3); without them
    a dark noisy canvas (C = 1)."""
    rng = np.random.default_rng(seed)
    images = (rng.integers(0, BACKGROUND_NOISE + 1, (count, 1, canvas, canvas), dtype=np.uint8)
              if backgrounds is None else backgrounds.copy())
    masks = np.zeros((count, canvas, canvas), dtype=np.uint8)
    for n in range(count):
        for _ in range(int(rng.integers(min_items, max_items + 1))):
            pick = int(rng.integers(len(items)))
            side = max(4, int(round(canvas * rng.uniform(0.3, 0.5))))
            item = torch.tensor(items[pick][None], dtype=torch.float32)
            item = F.interpolate(item, size=(side, side), mode="bilinear", align_corners=False,
                                 antialias=True)[0, 0].round().clamp(0, 255).numpy()
            y, x = (int(v) for v in rng.integers(0, canvas - side + 1, 2))
            on = item >= FOREGROUND * 255
            tint = np.ones(1) if backgrounds is None else rng.uniform(0.5, 1.0, 3)  # a colour per item on photos
            for channel, share in enumerate(tint):
                window = images[n, channel, y:y + side, x:x + side]
                window[on] = (item[on] * share).astype(np.uint8)   # a later item occludes an earlier one
            masks[n, y:y + side, x:x + side][on] = classes[pick] + 1
    return images, masks


def held_out_items(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) item indices when a source has no test split of its own (digits)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(round(len(labels) * fraction))
    return np.sort(order[cut:]), np.sort(order[:cut])
