"""Detection images on disk with their boxes (coco:, yolo:, vocdet:): each file decoded when a loader asks for
it and stretched to the model's size with its boxes (torchvision.transforms.v2, pipeline/data/transforms.py);
training adds a random scale-crop and, with train.hflip, flips.

Boxes are kept per image at the file's own pixels as rows (class, x1, y1, x2, y2, ignore): `ignore` is 1 for a
box that is neither trained on nor counted as missed (COCO `iscrowd`, VOC `difficult`).
"""
from __future__ import annotations

import numpy as np
import torch

from edgeship.pipeline.data.ragged import RaggedTargets
from edgeship.pipeline.data.splits import FileSplit
from edgeship.pipeline.data.transforms import box_eval_transform, box_train_transform, match_channels

ROW_WIDTH = 6  # class, x1, y1, x2, y2, ignore


def first_classes(boxes: list[np.ndarray]) -> np.ndarray:
    """One class per image for stratified splits and samples: its first box's, else 0."""
    return np.asarray([int(b[0, 0]) if len(b) else 0 for b in boxes], dtype=np.int64)


class BoxFileSplit(RaggedTargets, FileSplit):
    def __init__(self, paths: list[str], boxes: list[np.ndarray], pre: dict, rows: np.ndarray | None = None):
        super().__init__(paths, first_classes(boxes), pre, rows)
        self.boxes = boxes
        self.transform = box_eval_transform(pre)

    def no_targets(self) -> np.ndarray:
        return np.zeros((0, ROW_WIDTH), dtype=np.float32)

    def __getitem__(self, position: int):
        image, row = self._image(int(self.rows[position]))
        image, targets = self.transform(match_channels(image, self.pre["channels"]),
                                        torch.from_numpy(self.boxes[row]))
        return image, targets, position

    def for_training(self, augment: bool, hflip: bool, trivial_augment: bool):
        return self.with_transform(box_train_transform(self.pre, augment, hflip)) if augment else self

    def batch_shifts(self, augment: bool) -> bool:
        return False  # crops and flips per image move the boxes too; a batch shift would not
