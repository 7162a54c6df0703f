"""The Task contract: what a kind of prediction (classification, segmentation, ...) brings to the flow.

A task is one file that registers a `Task` in core/contracts/plugins.py TASKS; the recipe's `task:` names it.
The training loop takes its loss and its meter from here; the report, the int8 budget, ship and the CI gate
name its metric; the device agent computes the same metric from the eval set's labels (one per image, or masks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from edgeship.pipeline.core.contracts.plugins import TASKS


class Meter(Protocol):
    """Accumulates a metric over batches: update(outputs, targets) per batch, then value() in percent. `counts`
    holds everything it has seen as integers, so the counts of several processes add up."""

    counts: np.ndarray

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None: ...

    def value(self) -> float: ...

    def details(self) -> dict: ...


@dataclass(frozen=True)
class Task:
    name: str
    metric: str                   # what the report's accuracy column holds, e.g. "top-1 %"
    loss: Callable                # loss(outputs, targets) -> scalar tensor: the supervised term of training
    predict_labels: Callable      # predict_labels(outputs) -> predicted labels (per image or per pixel)
    meter: Callable[[int], Meter]  # meter(num_classes): a fresh accumulator of the metric
    metric_name: str = "top-1"    # how sentences name a point of it ("+1.2 points top-1")
    # One label per image (False) or a mask per image (True): the output layout, and which methods apply.
    dense: bool = False
    # What its data sources must give per image (DataSource.targets): "labels", "masks" or a plug-in's kind.
    targets: str = "labels"
    # Accuracy intervals (Wilson) hold for a proportion of images, not for a pixel-pooled score such as mIoU.
    per_image_metric: bool = True
    # The device agent's metric (targets/agent/metrics.py METRICS) that scores this task's outputs on a device:
    # named in the eval set, so the agent never guesses it from the labels' shape.
    device_metric: str = "top1"


def task_named(name: str) -> Task:
    return TASKS.get(name, "task")
