"""The weak-teacher guard's evidence: is the student measurably ahead of its teacher on the validation split?

One validation number each is not evidence: on the demo's 143 images one image is 0.7 points, and a student that
merely ties its teacher would switch distillation off. The guard compares the two models image by image on the
same split (a paired comparison) and acts only when the lower end of the 95% interval of student - teacher is
above zero. The interval comes from a paired bootstrap over images of the task's own meter counts, so it holds for
top-1 (a proportion) and for pooled scores such as mIoU alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from edgeship.pipeline.data.loaders import eval_loader, iterate
from edgeship.pipeline.data.ragged import targets_to

RESAMPLES = 2000


@dataclass(frozen=True)
class Difference:
    """student - teacher in metric points, with its 95% paired-bootstrap interval, on `images` images."""
    point: float
    low: float
    high: float
    images: int

    def as_dict(self) -> dict:
        return {"difference": self.point, "low": self.low, "high": self.high, "images": self.images}


@torch.no_grad()
def per_image_counts(model: nn.Module, split, task) -> tuple[np.ndarray, int]:
    """The task meter's integer counts for each image of the split, stacked (images, *counts.shape), and the
    number of classes the model predicts."""
    model.eval()
    device = next(model.parameters(), torch.zeros(())).device
    rows, classes = [], 0
    for xb, yb, _ in iterate(eval_loader(split)):
        outputs = model(split.to_inputs(xb.to(device))).float()
        yb, classes = targets_to(yb, outputs.device), outputs.shape[1]
        for i in range(len(outputs)):
            meter = task.meter(outputs.shape[1])
            meter.update(outputs[i:i + 1], yb[i:i + 1])
            rows.append(meter.counts.copy())
    return np.stack(rows), classes


def paired_difference(a: np.ndarray, b: np.ndarray, value_of: Callable[[np.ndarray], float],
                      resamples: int = RESAMPLES, seed: int = 0) -> Difference:
    """value(a) - value(b) over the same images, with the 2.5/97.5 percentiles of the same difference over
    `resamples` bootstrap draws of the images (one draw serves both models: the pairing)."""
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"paired counts must have one equal, non-empty shape: {a.shape} vs {b.shape}")
    n = len(a)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    a_sums = (weights @ a.reshape(n, -1)).reshape(resamples, *a.shape[1:])
    b_sums = (weights @ b.reshape(n, -1)).reshape(resamples, *b.shape[1:])
    diffs = np.array([value_of(x) - value_of(y) for x, y in zip(a_sums, b_sums)])
    diffs = diffs[np.isfinite(diffs)]
    point = value_of(a.sum(0)) - value_of(b.sum(0))
    low, high = np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (float("nan"), float("nan"))
    return Difference(float(point), float(low), float(high), n)


def meter_value(task, num_classes: int) -> Callable[[np.ndarray], float]:
    """counts -> the task's metric, through its own meter."""
    def value_of(counts: np.ndarray) -> float:
        meter = task.meter(num_classes)
        meter.counts = counts
        return meter.value()
    return value_of
