"""The built-in `objects` source (detection): 1-4 real images (digits or Fashion-MNIST items) placed without overlap
at several scales on a dark, noisy canvas, each with its exact box (the tight box of its foreground pixels) and
class. Nothing is downloaded; the same seed gives the same canvases. Test canvases are made from items held out of
the training canvases. `data.scenes` sets the count, canvas (default: data.image_size) and items per canvas.

Targets are rows of (class, x1, y1, x2, y2) in input pixels, a variable number per image (pipeline/data/ragged.py).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from edgeship.pipeline.core.contracts.data_sources import BOXES, DataSource, SourceData
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.ragged import RaggedArraySplit
from edgeship.pipeline.data.scenes import BACKGROUND_NOISE, FOREGROUND
from edgeship.pipeline.data.sources import array_digest, check_scene_items, scene_items
from edgeship.pipeline.data.transforms import box_train_transform

SCALES = (0.15, 0.5)   # an item's side as a share of the canvas: small to large objects on one canvas
PLACEMENT_TRIES = 20   # a spot that overlaps no earlier item; an item that finds none is left out


class BoxSplit(RaggedArraySplit):
    """Canvases drawn at the model's size with their boxes: no resize. Training with `augment` crops at random
    (half the area to all of it, back to the model's size) and, with `hflip`, flips, image and boxes together
    (pipeline/data/transforms.py box_train_transform); never a batch shift, which would leave the boxes behind."""

    def __init__(self, images, flat, offsets, pre, rows=None):
        super().__init__(images, flat, offsets, pre, rows, model_sized=True)
        self.box_transform = None

    def for_training(self, augment: bool, hflip: bool, trivial_augment: bool):
        if not augment:
            return self
        view = copy.copy(self)
        view.box_transform = box_train_transform(self.pre, augment, hflip)
        return view

    def __getitem__(self, position: int):
        image, targets, position = super().__getitem__(position)
        return (*self.box_transform(image, targets), position) if self.box_transform else (image, targets, position)

    def __getitems__(self, positions: list[int]):
        items = super().__getitems__(positions)
        if not self.box_transform:
            return items
        return [(*self.box_transform(image, targets), p) for image, targets, p in items]

    def batch_shifts(self, augment: bool) -> bool:
        return False


def _placed(rng, canvas: int, side: int, taken: list) -> tuple[int, int] | None:
    for _ in range(PLACEMENT_TRIES):
        y, x = (int(v) for v in rng.integers(0, canvas - side + 1, 2))
        if all(x >= b[2] or x + side <= b[0] or y >= b[3] or y + side <= b[1] for b in taken):
            return y, x
    return None


def compose_objects(items: np.ndarray, classes: np.ndarray, count: int, canvas: int, min_items: int,
                    max_items: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` canvases (count, 1, canvas, canvas) uint8, their box rows (M, 5) float32 and offsets (count + 1)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, BACKGROUND_NOISE + 1, (count, 1, canvas, canvas), dtype=np.uint8)
    rows, offsets = [], [0]
    for n in range(count):
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(min_items, max_items + 1))):
            side = max(6, int(round(canvas * rng.uniform(*SCALES))))
            spot = _placed(rng, canvas, side, taken)
            pick = int(rng.integers(len(items)))
            if spot is None:
                continue
            y, x = spot
            item = F.interpolate(torch.tensor(items[pick][None], dtype=torch.float32), size=(side, side),
                                 mode="bilinear", align_corners=False, antialias=True)[0, 0].round().clamp(0, 255)
            item = item.numpy().astype(np.uint8)
            on = item >= FOREGROUND * 255
            if not on.any():
                continue
            images[n, 0, y:y + side, x:x + side][on] = item[on]
            ys, xs = np.nonzero(on)
            rows.append([classes[pick], x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1])
            taken.append((x, y, x + side, y + side))
        offsets.append(len(rows))
    return images, np.asarray(rows, np.float32).reshape(-1, 5), np.asarray(offsets, np.int64)


def load(argument: str, cfg, pre: dict) -> SourceData:
    x, y, names, x_test, y_test = scene_items(argument, cfg)
    s = cfg.scenes
    canvas = s.canvas or cfg.image_size
    if canvas != cfg.image_size:
        raise EdgeshipError(f"data.scenes.canvas: objects are drawn at the model's size (data.image_size "
                            f"{cfg.image_size}), not {canvas}")
    if cfg.channels != 1:
        raise EdgeshipError("data.channels: the objects source draws grey canvases; set channels: 1")
    n_test = max(1, int(round(s.count * cfg.split.test)))
    train = compose_objects(x, y, s.count - n_test, canvas, s.min_items, s.max_items, cfg.split.seed)
    test = compose_objects(x_test, y_test, n_test, canvas, s.min_items, s.max_items, cfg.split.seed + 1)
    digest = [array_digest(a) for a in (*train, *test)]
    return SourceData(BoxSplit(*train, pre), BoxSplit(*test, pre), names, digest)


DATA_SOURCES.register(DataSource("objects", BOXES, load, "objects[:digits|:fashion-mnist[:PATH]]",
                                 check=check_scene_items))
