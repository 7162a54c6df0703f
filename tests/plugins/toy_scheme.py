"""A toy distillation-scheme plug-in (docs/extending.md): mean teacher (Tarvainen & Valpola 2017). No trained
teacher: the teacher is an exponential moving average of the student's own weights, and the student learns from
the labels plus the EMA's softened outputs (KL at the recipe's temperature, weight distill.alpha)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from edgeship.pipeline.core.contracts.plugins import SCHEMES
from edgeship.pipeline.core.contracts.schemes import Scheme
from edgeship.pipeline.distillation.alongside import TrainedAlongside
from edgeship.pipeline.distillation.logit import kd_loss

DECAY = 0.99  # the EMA's weight on its past


class MeanTeacher(TrainedAlongside):
    teacher_logits_mode = "self"

    def __init__(self, student: nn.Module, cfg, supervised_loss):
        super().__init__()
        self.student, self.cfg, self.supervised_loss = [student], cfg, supervised_loss  # a list: not a submodule
        self.ema = copy.deepcopy(student).eval().requires_grad_(False)
        self.method_module = nn.ModuleList()  # nothing of its own learns by gradient

    @torch.no_grad()
    def _follow(self) -> None:
        for mean, current in zip(self.ema.state_dict().values(), self.student[0].state_dict().values()):
            if mean.dtype.is_floating_point:
                mean.mul_(DECAY).add_(current, alpha=1 - DECAY)
            else:
                mean.copy_(current)

    def loss(self, student_logits, labels, idx, xb, epoch):
        if next(self.ema.parameters()).device != xb.device:
            self.ema.to(xb.device)
        self._follow()
        with torch.no_grad():
            targets = self.ema(xb)
        temperature = self.cfg.temperature or 4.0
        supervised, mimicry = self.supervised_loss(student_logits, labels), kd_loss(student_logits, targets,
                                                                                   temperature)
        total = (1 - self.cfg.alpha) * supervised + self.cfg.alpha * mimicry
        return total, {"ce": supervised.item(), "kd": mimicry.item()}


def train(run):
    model, spec = run.new_student()
    summary = run.fit(model, MeanTeacher(model, run.cfg, run.task.loss))
    return model, spec, summary.with_scheme({"name": "mean-teacher", "decay": DECAY})


def check(recipe, task) -> None:
    if recipe.distill.method != "kd":
        raise ValueError(f"distill.scheme mean-teacher learns from its own average (method kd), not "
                         f"{recipe.distill.method!r}")


SCHEMES.register(Scheme("mean-teacher", train, lambda s: f"mean teacher (an EMA of the student, decay {s['decay']})",
                        check=check, learns_from_teacher=lambda cfg: False))
