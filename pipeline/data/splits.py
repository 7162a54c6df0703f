"""Splits: torch Datasets of (image, label, position) that decode one image at a time.

An ArraySplit holds a source's uint8 images at their native size (digits, Fashion-MNIST: small, in memory) and
resizes per batch; a FileSplit holds file paths and decodes each image when a loader asks for it, so memory does
not grow with the dataset. A split is a view: `subset` and `with_transform` share the storage.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.sampling import stratified_indices
from edgeship.pipeline.data.loaders import eval_loader, iterate
from edgeship.pipeline.data.transforms import (
    LARGE_IMAGE,
    batch_shifts,
    eval_transform,
    match_channels,
    normalize,
    train_transform,
)


class Split(Dataset, ABC):
    """What every split shares; a subclass says where an image comes from (`_image`)."""

    def __init__(self, labels: np.ndarray, pre: dict, rows: np.ndarray | None = None):
        self._labels = np.asarray(labels, dtype=np.int64)
        self.pre = pre
        self.rows = np.arange(len(self._labels), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        self.transform = eval_transform(pre)
        self.per_batch = True  # the eval transform is the same for every image: one call per batch

    @property
    def labels(self) -> np.ndarray:
        return self._labels[self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @abstractmethod
    def _image(self, row: int) -> tuple[torch.Tensor, int]:
        """The image of storage row `row` (or of the row that stands in for it) and that row."""

    def __getitem__(self, position: int):
        image, row = self._image(int(self.rows[position]))
        return self.transform(image), int(self._labels[row]), position

    def subset(self, positions: np.ndarray) -> "Split":
        view = copy.copy(self)
        view.rows = self.rows[np.asarray(positions, dtype=np.int64)]
        return view

    def sample(self, count: int | None, seed: int = 0) -> "Split":
        """At most `count` images, the same number from every class as near as it allows (fixed seed)."""
        if count is None or len(self) <= count:
            return self
        return self.subset(stratified_indices(self.labels, count, seed))

    def with_transform(self, transform, per_batch: bool = False) -> "Split":
        view = copy.copy(self)
        view.transform, view.per_batch = transform, per_batch
        return view

    def for_training(self, augment: bool, hflip: bool, trivial_augment: bool) -> "Split":
        """The split as training sees it: crops and flips per image from 64 px up (shifts for tiny images are
        drawn per batch by the training loop)."""
        if not augment or self.pre["size"][0] < LARGE_IMAGE:
            return self
        return self.with_transform(train_transform(self.pre, augment, hflip, trivial_augment), per_batch=False)

    def to_inputs(self, batch: torch.Tensor) -> torch.Tensor:
        return normalize(batch, self.pre)

    def arrays(self, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Every image of the split at the model's size, uint8 (N, C, H, W), with its target: a label (N) or a
        mask (N, H, W). For the small sets that travel (calibration, device evaluation, parity samples)."""
        images, targets = [], []
        for xb, yb, _ in iterate(eval_loader(self, batch_size)):
            images.append(xb.numpy())
            targets.append(yb.numpy())
        if images:
            return np.concatenate(images), np.concatenate(targets)
        return np.zeros((0, self.pre["channels"], *self.pre["size"]), dtype=np.uint8), self.labels[:0]

    def images(self, batch_size: int = 256) -> np.ndarray:
        return self.arrays(batch_size)[0]

    def inputs(self) -> np.ndarray:
        """Every image preprocessed as the model takes it: float32 (N, C, H, W)."""
        return self.to_inputs(torch.from_numpy(self.images())).numpy()

    def inputs_and_targets(self) -> tuple[np.ndarray, np.ndarray]:
        images, targets = self.arrays()
        return self.to_inputs(torch.from_numpy(images)).numpy(), targets

    def batch_shifts(self, augment: bool) -> bool:
        """Whether the training loop shifts whole batches (tiny images; crops and flips do it from 64 px up)."""
        return batch_shifts(self.pre, augment)


def _unchanged(image: torch.Tensor) -> torch.Tensor:
    return image


class InputsByIndex:
    """A split's model inputs, indexable by an array of positions (what build_calibration_set takes)."""

    def __init__(self, split: Split):
        self.split = split

    def __getitem__(self, positions: np.ndarray) -> np.ndarray:
        return self.split.subset(positions).inputs()


class ArraySplit(Split):
    """uint8 images (N, C, H, W) of one native size; `model_sized`: already at the evaluation crop (decoded by
    data.in_memory); `ready`: float32 model inputs, used as they are."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, pre: dict, rows: np.ndarray | None = None,
                 ready: bool = False, model_sized: bool = False):
        super().__init__(labels, pre, rows)
        self.array = images
        self.ready = ready
        if ready or model_sized:
            self.transform = _unchanged

    @classmethod
    def of_inputs(cls, inputs: np.ndarray, labels: np.ndarray, pre: dict | None = None) -> "ArraySplit":
        """Already preprocessed float32 inputs (tests, benchmarks)."""
        pre = pre or {"channels": inputs.shape[1], "size": list(inputs.shape[2:]), "scale": 1.0, "mean": [0.0],
                      "std": [1.0], "resize_mode": "exact"}
        return cls(np.ascontiguousarray(inputs, dtype=np.float32), labels, pre, ready=True)

    def for_training(self, augment: bool, hflip: bool, trivial_augment: bool) -> Split:
        return self if self.ready else super().for_training(augment, hflip, trivial_augment)

    def _image(self, row: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.array[row])
        return (image if self.ready else match_channels(image, self.pre["channels"])), row

    def __getitems__(self, positions: list[int]):
        if not self.per_batch:
            return [self[p] for p in positions]
        rows = self.rows[np.asarray(positions, dtype=np.int64)]
        batch = torch.from_numpy(self.array[rows])
        if not self.ready:
            batch = torch.stack([match_channels(image, self.pre["channels"]) for image in batch]) \
                if batch.shape[1] != self.pre["channels"] else batch
            batch = self.transform(batch)
        return [(image, int(self._labels[row]), p) for image, row, p in zip(batch, rows, positions)]


class FileSplit(Split):
    """Image files decoded on demand (PIL), in the recipe's channel mode."""

    def __init__(self, paths: list[str], labels: np.ndarray, pre: dict, rows: np.ndarray | None = None,
                 skip_unreadable: bool = False):
        super().__init__(labels, pre, rows)
        self.paths = paths
        self.skip_unreadable = skip_unreadable
        self.per_batch = False
        self.decodes_files = True  # loaders decode it in worker processes

    def _decode(self, row: int) -> torch.Tensor:
        from PIL import Image

        mode = "L" if self.pre["channels"] == 1 else "RGB"
        with Image.open(self.paths[row]) as img:
            array = np.asarray(img.convert(mode))
        return torch.from_numpy(array[None] if array.ndim == 2 else array.transpose(2, 0, 1).copy())

    def _image(self, row: int) -> tuple[torch.Tensor, int]:
        for attempt in range(len(self._labels)):
            candidate = (row + attempt) % len(self._labels)
            try:
                return self._decode(candidate), candidate
            except (OSError, ValueError, SyntaxError) as err:  # PIL's errors for truncated or foreign files
                if not self.skip_unreadable:
                    raise EdgeshipError(f"data.source: cannot read image {self.paths[candidate]}: "
                                        f"{' '.join(str(err).split())}") from None
        raise EdgeshipError(f"data.source: no readable image among {len(self._labels)} files")


def file_listing_digest(paths: list[str], root: Path) -> list:
    """What identifies a folder of images without reading every byte: relative path, size, mtime."""
    out = []
    for path in paths:
        stat = Path(path).stat()
        out.append((str(Path(path).relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return out
