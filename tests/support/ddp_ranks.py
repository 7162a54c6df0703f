"""What the scale-out tests run on each rank (a module, so torchrun's spawned processes can import it)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from edgeship.pipeline.config.recipe import DistillConfig, LayerPair, TrainConfig
from edgeship.pipeline.data.splits import ArraySplit
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.training import distributed
from edgeship.pipeline.training.loop import seed_everything, train

# 257 images in batches of 64: the last global batch holds one image, so with 2 ranks one rank gets none.
SAMPLES, BATCH = 257, 64


def _net(width: int) -> nn.Module:
    # BatchNorm as in the pipeline's models: its batch statistics must span the ranks.
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * width, 10))


def train_student(method: str) -> dict[str, torch.Tensor]:
    """A student trained for 2 epochs (with augmentation) by `method`: 'scratch', 'kd' or 'fitnets'."""
    digits = load_digits()
    x = (digits.images[:SAMPLES, None] / 16.0).astype(np.float32)
    y = digits.target[:SAMPLES].astype(np.int64)
    seed_everything(0)
    teacher, student = _net(16), _net(8)
    distiller = None
    if method != "scratch":
        cfg = DistillConfig(method=method, hint_epochs=1, beta=1.0,
                            layers=[LayerPair(teacher="3", student="3")] if method == "fitnets" else [])
        distiller = Distiller(teacher, student, cfg, torch.from_numpy(x[:1]))
    train(student, ArraySplit.of_inputs(x, y), None, TrainConfig(epochs=2, batch_size=BATCH, lr=0.01, augment=True),
          0, distiller)
    state = {f"student.{k}": v for k, v in student.state_dict().items()}
    if distiller is not None:
        state.update({f"regressors.{k}": v for k, v in distiller.method_module.state_dict().items()})
    return state


def train_on_rank(method: str) -> dict[str, torch.Tensor]:
    distributed.join_from_env()
    try:
        return {"world_size": distributed.world_size(), "rank": distributed.rank(), **train_student(method)}
    finally:
        distributed.leave()
