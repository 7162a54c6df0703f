"""Deep-to-shallow self-distillation within one network ("Be Your Own Teacher", Zhang et al. 2019).

A small classifier is attached after each shallow stage of the student (distillation/exits.py); each learns
from the labels and from the network's own final output (softened, detached), so the deep part teaches the shallow
ones and their gradients shape the shared early layers. No external teacher. Drop-in for Distiller in the training
loop: the heads are its learned parts (they join the optimizer) and are dropped after training, so the exported
student is the plain network. The final classifier trains on the labels alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.distillation.alongside import TrainedAlongside
from edgeship.pipeline.distillation.exits import Exit, Exits
from edgeship.pipeline.distillation.hooks import FeatureHooks
from edgeship.pipeline.distillation.logit import kd_loss

SELF_TEMPERATURE = 3.0  # BYOT's, for the exits' KD term when the recipe leaves distill.temperature unset


def exit_head(at: Exit, deepest: Exit, num_classes: int) -> nn.Module:
    """1x1 conv to the deepest stage's width, BN, ReLU, global pooling, linear: a light stand-in for BYOT's
    bottleneck heads that works on any stage shape."""
    channels, width = at.shape[0], deepest.shape[0]
    return nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


class ShallowExits(TrainedAlongside):
    teacher_logits_mode = "self"

    def __init__(self, student: nn.Module, exits: Exits, num_classes: int, cfg, supervised_loss=F.cross_entropy):
        super().__init__()
        self.method_module = nn.ModuleList([exit_head(e, exits.deepest, num_classes) for e in exits.shallow])
        self.hooks = FeatureHooks(student, [e.name for e in exits.shallow], "distill.exits")
        self.supervised_loss = supervised_loss
        self.alpha = cfg.exit_alpha
        self.temperature = cfg.temperature if cfg.temperature is not None else SELF_TEMPERATURE

    def shallow_losses(self, final_logits: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        """Each head's (1 - alpha) * supervised + alpha * KD(T) from the final output, on the features the
        student's forward just gave."""
        target = final_logits.detach()
        losses = []
        for head, feature in zip(self.method_module, self.hooks.features()):
            logits = head(feature)
            losses.append((1 - self.alpha) * self.supervised_loss(logits, labels)
                          + self.alpha * kd_loss(logits, target, self.temperature))
        return losses

    def loss(self, student_logits: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor, xb: torch.Tensor,
             epoch: int) -> tuple[torch.Tensor, dict]:
        ce = self.supervised_loss(student_logits, labels)
        shallow = self.shallow_losses(student_logits, labels)
        return ce + sum(shallow), {"ce": ce.item(), "kd": 0.0, "shallow": sum(s.item() for s in shallow)}

    def close(self) -> None:
        self.hooks.remove()
