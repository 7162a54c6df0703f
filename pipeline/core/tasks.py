"""The Task contract: what a kind of prediction (classification, segmentation, ...) brings to the flow.

A task is one file that registers a `Task` in pipeline.core.plugins.TASKS; the recipe's `task:` names it.
Classification is the first task; the training loop takes its loss and its decoding from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pipeline.core.plugins import TASKS


@dataclass(frozen=True)
class Task:
    name: str
    metric: str                   # what the report's accuracy column holds, e.g. "top-1 %"
    loss: Callable                # loss(outputs, targets) -> scalar tensor: the supervised term of training
    predict_labels: Callable      # predict_labels(outputs) -> predicted labels, compared with the targets


def task_named(name: str) -> Task:
    return TASKS.get(name, "task")
