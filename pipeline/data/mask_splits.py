"""Splits of images with masks (semantic segmentation): the same views as the classification splits, but each
item is (image, mask, position) and every transform moves the image and its mask together.

Masks are uint8 class indices per pixel, 255 = ignore. A mask split has no per-image class, so its `labels`
are all 0: stratified sampling (calibration, limits) becomes plain seeded sampling.
"""
from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.splits import Split
from edgeship.pipeline.data.transforms import joint_eval_transform, joint_train_transform, match_channels


class MaskSplit(Split):
    def __init__(self, count: int, pre: dict, rows: np.ndarray | None = None):
        super().__init__(np.zeros(count, dtype=np.int64), pre, rows)
        self.transform = joint_eval_transform(pre)
        self.per_batch = False

    @abstractmethod
    def _pair(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The uint8 image (C, H, W) and mask (H, W) of storage row `row`."""

    def _image(self, row: int) -> tuple[torch.Tensor, int]:
        return self._pair(row)[0], row

    def native_masks(self):
        """Every mask of the split at its stored size, one at a time (class frequencies for the loss)."""
        for row in self.rows:
            yield self._pair(int(row))[1].numpy()

    def __getitem__(self, position: int):
        image, mask = self._pair(int(self.rows[position]))
        image, mask = self.transform(match_channels(image, self.pre["channels"]), mask)
        return image, mask, position

    def for_training(self, augment: bool, hflip: bool, trivial_augment: bool) -> Split:
        return self.with_transform(joint_train_transform(self.pre, augment, hflip)) if augment else self

    def batch_shifts(self, augment: bool) -> bool:
        return False  # crops and flips per image move the masks too; a batch shift would not


class MaskArraySplit(MaskSplit):
    """uint8 images (N, C, H, W) and masks (N, H, W) in memory (the built-in scenes)."""

    def __init__(self, images: np.ndarray, masks: np.ndarray, pre: dict, rows: np.ndarray | None = None):
        super().__init__(len(images), pre, rows)
        self.array, self.masks = images, masks

    def _pair(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.array[row]), torch.from_numpy(self.masks[row])


class MaskFileSplit(MaskSplit):
    """Image and mask files decoded on demand; `num_classes` bounds the mask values (255 = ignore)."""

    def __init__(self, images: list[str], masks: list[str], pre: dict, num_classes: int,
                 rows: np.ndarray | None = None):
        super().__init__(len(images), pre, rows)
        self.paths, self.mask_paths, self.num_classes = images, masks, num_classes
        self.decodes_files = True  # loaders decode it in worker processes

    def _pair(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        mode = "L" if self.pre["channels"] == 1 else "RGB"
        try:
            with Image.open(self.paths[row]) as img:
                array = np.asarray(img.convert(mode))
            mask = read_mask(self.mask_paths[row])
        except (OSError, ValueError, SyntaxError) as err:
            raise EdgeshipError(f"data.source: cannot read {self.paths[row]} or its mask: "
                                f"{' '.join(str(err).split())}") from None
        check_mask_values(mask, self.num_classes, self.mask_paths[row])
        # one copy either way, which torch may write to (PIL's arrays are read-only)
        planes = array[None].copy() if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))
        image = torch.from_numpy(planes)
        return image, torch.from_numpy(mask)


MASK_MODES = ("L", "P", "1", "I", "I;16")


def read_mask(path: str) -> np.ndarray:
    """A single-channel PNG of class indices (grey or palette: the palette index is the class), as uint8."""
    from PIL import Image

    with Image.open(path) as img:
        if img.mode not in MASK_MODES:
            raise EdgeshipError(f"data.source: mask {path} is not single-channel (mode {img.mode}); masks hold "
                                "one class index per pixel")
        mask = np.array(img)  # writable: torch shares its memory
    if mask.dtype != np.uint8:
        if mask.max(initial=0) > 255:
            raise EdgeshipError(f"data.source: mask {path} has values above 255")
        mask = mask.astype(np.uint8)
    return mask


def check_mask_values(mask: np.ndarray, num_classes: int, path: str) -> None:
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != 255)]
    if bad.size:
        raise EdgeshipError(f"data.source: mask {path} has class index {int(bad[0])}, but there are only "
                            f"{num_classes} classes (0..{num_classes - 1}; 255 = ignore)")
