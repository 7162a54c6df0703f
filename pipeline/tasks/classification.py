"""Classification: one label per image, cross-entropy, top-1 accuracy."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeship.pipeline.core.contracts.plugins import TASKS
from edgeship.pipeline.core.contracts.tasks import Task


class TopOneMeter:
    def __init__(self, num_classes: int):
        self.counts = np.zeros(2, dtype=np.int64)  # correct, seen

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.counts += [int((outputs.argmax(1) == targets).sum()), int(targets.numel())]

    def value(self) -> float:
        correct, seen = self.counts
        return correct / seen * 100.0 if seen else float("nan")

    def details(self) -> dict:
        return {"accuracy": self.value()}


CLASSIFICATION = TASKS.register(Task(name="classification", metric="top-1 %", loss=F.cross_entropy,
                                     predict_labels=lambda outputs: outputs.argmax(1), meter=TopOneMeter))
