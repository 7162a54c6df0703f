"""Classification: one label per image, cross-entropy, top-1 accuracy."""
from __future__ import annotations

import torch.nn.functional as F

from pipeline.core.plugins import TASKS
from pipeline.core.tasks import Task

CLASSIFICATION = TASKS.register(Task(name="classification", metric="top-1 %", loss=F.cross_entropy,
                                     predict_labels=lambda outputs: outputs.argmax(1)))
