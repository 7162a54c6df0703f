"""A detector student distilled for one epoch on the built-in objects (the detection distillation tests)."""
import torch

from edgeship.pipeline.config.recipe import DistillConfig, TrainConfig
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.tasks.detection import DETECTION, fcos_loss
from edgeship.pipeline.training.loop import train


def distill_one_epoch(teacher, student, method: str, data, side: int = 64) -> tuple[list[dict], Distiller]:
    """(the training history, the closed distiller) of `student` distilled from `teacher` by `method`, alpha 0."""
    distiller = Distiller(teacher, student, DistillConfig(method=method, alpha=0.0), torch.zeros(1, 1, side, side),
                          fcos_loss)
    history = train(student, data.train, None, TrainConfig(epochs=1, lr=0.002, optimizer="adam"), seed=0,
                    task=DETECTION, distiller=distiller)
    distiller.close()
    return history, distiller
