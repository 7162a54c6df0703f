"""Semantic segmentation: a class per pixel (255 = ignore), per-pixel cross-entropy, mIoU.

The metric comes from one confusion matrix over the whole split (the device agent's code, so host and
device compute the same number), never from an average of per-image scores.
"""
from __future__ import annotations

import numpy as np
import torch

from edgeship.pipeline.core.contracts.plugins import TASKS
from edgeship.pipeline.core.contracts.tasks import Task
from edgeship.pipeline.tasks.dense_losses import cross_entropy, make_loss
from edgeship.targets.agent import confusion_update, segmentation_scores


class ConfusionMeter:
    def __init__(self, num_classes: int):
        self.counts = np.zeros((num_classes, num_classes), dtype=np.int64)  # the confusion matrix

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        predicted = outputs.detach().argmax(1).cpu().numpy()
        confusion_update(self.counts, predicted.reshape(-1), targets.detach().cpu().numpy().reshape(-1))

    def value(self) -> float:
        return self.details()["miou"]

    def details(self) -> dict:
        return segmentation_scores(self.counts)


pixel_cross_entropy = cross_entropy  # plain per-pixel CE; the recipe's loss.kind may pick another (make_loss)

SEGMENTATION = TASKS.register(Task(name="segmentation", metric="mIoU %", loss=cross_entropy, make_loss=make_loss,
                                   predict_labels=lambda outputs: outputs.argmax(1), meter=ConfusionMeter,
                                   metric_name="mIoU", dense=True, targets="masks", per_image_metric=False,
                                   device_metric="miou"))
