"""Images with a variable number of targets each (a set of labels; boxes, for detection): a split whose items are
(image, targets tensor, position) and whose batches hold a list of target tensors, one per image.

Targets are stored flat, `flat` rows of every image one after the other and `offsets` (N + 1) where each image's
rows start: the layout of the device agent's eval sets (`labels` + `label_offsets`, targets/agent/metrics.py
Ragged), so what the host trains and scores on travels to a device as it is.
"""
from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from edgeship.pipeline.data.loaders import eval_loader, iterate
from edgeship.pipeline.data.splits import ArraySplit
from edgeship.targets.agent import Ragged


def targets_to(targets, device):
    """A batch's targets on `device`: one tensor (labels, masks) or a list of them (a variable number per image)."""
    if isinstance(targets, (list, tuple)):
        return [t.to(device, non_blocking=True) for t in targets]
    return targets.to(device, non_blocking=True)


def as_tensors(targets):
    """Targets as training takes them: one tensor, or a list of tensors for a variable number per image."""
    if isinstance(targets, Ragged):
        return [torch.from_numpy(np.ascontiguousarray(t)) for t in targets[0:len(targets)]]
    return torch.from_numpy(targets)


def strata_of(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One class per image for stratified splits and samples: its first target's (column 0 of a row), else 0."""
    counts = np.diff(offsets)
    firsts = flat[np.minimum(offsets[:-1], max(len(flat) - 1, 0))] if len(flat) else np.zeros(len(counts))
    firsts = firsts[:, 0] if firsts.ndim > 1 else firsts
    return np.where(counts > 0, firsts, 0).astype(np.int64)


class RaggedTargets:
    """What every split with a variable number of target rows per image shares: a collate that keeps them apart
    and `arrays` that return them as one Ragged."""

    pre: dict

    @abstractmethod
    def no_targets(self) -> np.ndarray:
        """The flat array of a split with no images (its row shape and dtype)."""

    @staticmethod
    def collate(batch):
        """(images, [targets per image], positions): the targets cannot stack."""
        return (torch.stack([item[0] for item in batch]), [item[1] for item in batch],
                torch.tensor([item[2] for item in batch]))

    def arrays(self, batch_size: int = 256) -> tuple[np.ndarray, Ragged]:
        images, targets = [], []
        for xb, yb, _ in iterate(eval_loader(self, batch_size)):
            images.append(xb.numpy())
            targets.extend(t.numpy() for t in yb)
        offsets = np.cumsum([0] + [len(t) for t in targets]).astype(np.int64)
        flat = np.concatenate(targets) if targets else self.no_targets()
        images = np.concatenate(images) if images else np.zeros((0, self.pre["channels"], *self.pre["size"]),
                                                                dtype=np.uint8)
        return images, Ragged(flat, offsets)


class RaggedArraySplit(RaggedTargets, ArraySplit):
    """uint8 images (N, C, H, W) in memory with a variable number of target rows each."""

    def __init__(self, images: np.ndarray, flat: np.ndarray, offsets: np.ndarray, pre: dict,
                 rows: np.ndarray | None = None, model_sized: bool = False):
        self.flat, self.offsets = flat, np.asarray(offsets, dtype=np.int64)
        super().__init__(images, strata_of(flat, self.offsets), pre, rows, model_sized=model_sized)

    def no_targets(self) -> np.ndarray:
        return self.flat[:0]

    def _targets(self, row: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.flat[self.offsets[row]:self.offsets[row + 1]]))

    def __getitem__(self, position: int):
        image, _, position = super().__getitem__(position)
        return image, self._targets(int(self.rows[position])), position

    def __getitems__(self, positions: list[int]):
        items = super().__getitems__(positions)
        rows = self.rows[np.asarray(positions, dtype=np.int64)]
        return [(image, self._targets(int(row)), p) for (image, _, p), row in zip(items, rows)]
