"""Online distillation: deep mutual learning (Zhang et al. 2018). The student and its peers train together from
scratch; each network's loss is its own supervised loss plus the mean KL divergence from the others' softened
outputs (targets detached, the KL's weight ramped up over `mimicry_rampup` of training), so no trained teacher
is needed. Drop-in for Distiller in the training loop: the peers are its learned parts (they join the optimizer),
and they are dropped after training."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.distillation.alongside import TrainedAlongside
from edgeship.pipeline.distillation.logit import kd_loss

DML_TEMPERATURE = 1.0  # the paper's plain softmax; a temperature set in the recipe overrides it


class MutualLearning(TrainedAlongside):
    teacher_logits_mode = "online"

    def __init__(self, peers: list[nn.Module], cfg, supervised_loss=F.cross_entropy):
        super().__init__()
        self.cfg = cfg
        self.method_module = nn.ModuleList(peers)  # trained along with the student
        self.supervised_loss = supervised_loss
        self.temperature = cfg.temperature if cfg.temperature is not None else DML_TEMPERATURE
        self.steps_done = 0

    def mimicry_weight(self) -> float:
        """exp(-5 (1 - t)^2) over the first `mimicry_rampup` of the steps (Laine & Aila's ramp, used by ONE),
        then 1."""
        span = self.cfg.mimicry_rampup * (self.total_steps or 0)
        if span <= 0:
            return 1.0
        t = min(1.0, self.steps_done / span)
        return math.exp(-5.0 * (1.0 - t) ** 2)

    def mutual_losses(self, outputs: list[torch.Tensor], labels: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """(supervised, mimicry) of each network: mimicry = mean over the others j of KL(p_j || p_i) at T."""
        losses = []
        for i, logits in enumerate(outputs):
            others = [o.detach() for j, o in enumerate(outputs) if j != i]
            mimicry = sum(kd_loss(logits, o, self.temperature) for o in others) / len(others)
            losses.append((self.supervised_loss(logits, labels), mimicry))
        return losses

    def loss(self, student_logits: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor, xb: torch.Tensor,
             epoch: int) -> tuple[torch.Tensor, dict]:
        outputs = [student_logits] + [peer(xb) for peer in self.method_module]
        losses = self.mutual_losses(outputs, labels)
        weight = self.mimicry_weight()
        self.steps_done += 1
        total = sum(ce + weight * mimicry for ce, mimicry in losses)
        (ce, mimicry), peers = losses[0], losses[1:]
        return total, {"ce": ce.item(), "kd": mimicry.item(), "peers": sum(c.item() + m.item() for c, m in peers),
                       "mimicry_weight": weight}
