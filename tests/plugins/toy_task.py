"""A toy task plug-in (docs/extending.md): classification scored by top-3 accuracy (a hit when the true class is
among the three best), as ImageNet reports top-5. Its device metric comes in toy_task_metric.py, pushed with the
agent (the top-3 selection is the device's post-processing step); parity asks for the same three classes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edgeship.pipeline.core.contracts.plugins import TASKS
from edgeship.pipeline.core.contracts.tasks import Task


class TopThreeMeter:
    def __init__(self, num_classes: int):
        self.counts = np.zeros(2, dtype=np.int64)  # hits, seen

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        best = outputs.detach().topk(3, dim=1).indices
        self.counts += [int((best == targets[:, None]).any(dim=1).sum()), int(targets.numel())]

    def value(self) -> float:
        hits, seen = self.counts
        return hits / seen * 100.0 if seen else float("nan")

    def details(self) -> dict:
        return {"accuracy": self.value()}


def same_three(expected: list[np.ndarray], got: list[np.ndarray]) -> float:
    """% of images whose three best classes are the same set in both."""
    top = [np.sort(np.argsort(-scores[0], axis=1)[:, :3], axis=1) for scores in (expected, got)]
    return float((top[0] == top[1]).all(axis=1).mean() * 100.0)


TASKS.register(Task(name="top3", metric="top-3 %", loss=F.cross_entropy, predict_labels=lambda out: out.argmax(1),
                    meter=TopThreeMeter, metric_name="top-3", device_metric="top3",
                    agent_module=str(Path(__file__).with_name("toy_task_metric.py")), parity=same_three,
                    parity_name="top-3 set agreement", outputs_like="classification"))
