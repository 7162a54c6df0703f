"""Distiller: one object that turns (student output, labels, batch) into the training loss of any method.

loss = (1 - alpha) * CE + alpha * KD(T) + beta * method loss, where the method loss is FitNets hints, attention
transfer, similarity preservation or DKD. The teacher is frozen (offline distillation). Without augmentation
its outputs for a training image never change, so they are computed once and reused every epoch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.distillation.feature import HintLoss, attention_loss
from pipeline.distillation.hooks import FeatureHooks
from pipeline.distillation.logit import dkd_loss, kd_loss
from pipeline.distillation.relation import similarity_preserving_loss
from pipeline.errors import EdgeshipError

# Published weights of each method's own loss (CRD benchmark code: FitNets 100, AT 1000, SP 3000; DKD 1).
DEFAULT_BETA = {"kd": 0.0, "fitnets": 100.0, "at": 1000.0, "sp": 3000.0, "dkd": 1.0}
FEATURE_METHODS = ("fitnets", "at", "sp")
CACHE_LIMIT_BYTES = 3 * 1024 ** 3


class Distiller(nn.Module):
    def __init__(self, teacher: nn.Module, student: nn.Module, cfg, example: torch.Tensor):
        super().__init__()
        self.cfg = cfg
        self.method = cfg.method
        self.beta = DEFAULT_BETA[cfg.method] if cfg.beta is None else cfg.beta
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        pairs = cfg.layers if cfg.method in FEATURE_METHODS else []
        if cfg.method in FEATURE_METHODS and not pairs:
            raise EdgeshipError(f"distill.layers: method {cfg.method!r} needs teacher/student layer pairs, "
                                "e.g. [{teacher: layer2, student: features.3}]")
        self.t_hooks = FeatureHooks(teacher, [p.teacher for p in pairs], "distill.layers.teacher")
        self.s_hooks = FeatureHooks(student, [p.student for p in pairs], "distill.layers.student")
        self.regressors = nn.ModuleList()
        if pairs:
            self._probe(student, example)
        self.hint_epochs = cfg.hint_epochs if cfg.method == "fitnets" else 0
        self.cache: tuple[torch.Tensor, list[torch.Tensor]] | None = None

    def _probe(self, student: nn.Module, example: torch.Tensor) -> None:
        """One forward pass to learn the feature shapes: builds FitNets regressors, rejects unusable layers."""
        was_training = student.training
        student.eval()
        with torch.no_grad():
            student(example)
            self.teacher(example)
        student.train(was_training)
        for pair, s, t in zip(self.cfg.layers, self.s_hooks.features(), self.t_hooks.features()):
            if s.dim() != 4 or t.dim() != 4:
                raise EdgeshipError(f"distill.layers: {pair.student!r} / {pair.teacher!r} must give NCHW feature "
                                    f"maps, got shapes {tuple(s.shape)} and {tuple(t.shape)}")
            if self.method == "fitnets":
                self.regressors.append(HintLoss(s.shape[1], t.shape[1]))

    @property
    def teacher_logits_mode(self) -> str:
        return "cached" if self.cache is not None else "live"

    @torch.no_grad()
    def prepare(self, x_train: np.ndarray, augment: bool, batch_size: int = 256) -> None:
        """Cache the teacher's logits (and hint features, in fp16) when every epoch shows it the same inputs."""
        if augment or not self.cfg.cache_teacher:
            return
        logits, feats = [], []
        for i in range(0, len(x_train), batch_size):
            logits.append(self.teacher(torch.from_numpy(x_train[i:i + batch_size])))
            feats.append([f.half() for f in self.t_hooks.features()])
            if i == 0 and feats[0]:
                per_sample = sum(f[0].numel() * 2 for f in feats[0])
                if per_sample * len(x_train) > CACHE_LIMIT_BYTES:
                    return  # too big to keep: the teacher runs live
        stacked = [torch.cat([batch[k] for batch in feats]) for k in range(len(self.t_hooks.names))]
        self.cache = (torch.cat(logits), stacked)

    def _teacher_outputs(self, idx: torch.Tensor, xb: torch.Tensor):
        if self.cache is not None:
            return self.cache[0][idx], [f[idx].float() for f in self.cache[1]]
        with torch.no_grad():
            return self.teacher(xb), self.t_hooks.features()

    def loss(self, student_logits: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor, xb: torch.Tensor,
             epoch: int) -> tuple[torch.Tensor, dict]:
        t_logits, t_feats = self._teacher_outputs(idx, xb)
        s_feats = self.s_hooks.features()
        method = self._method_loss(student_logits, t_logits, s_feats, t_feats, labels, epoch)
        if epoch <= self.hint_epochs:  # FitNets stage 1: only the hint trains the student's lower part
            return self.beta * method, {"ce": 0.0, "kd": 0.0, self.method: method.item()}
        ce = F.cross_entropy(student_logits, labels)
        alpha = self.cfg.alpha
        kd = kd_loss(student_logits, t_logits, self.cfg.temperature) if alpha > 0 else torch.zeros(())
        total = (1 - alpha) * ce + alpha * kd + self.beta * method
        parts = {"ce": ce.item(), "kd": kd.item()}
        if self.method != "kd":
            parts[self.method] = method.item()
        return total, parts

    def _method_loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        if self.method == "kd":
            return torch.zeros(())
        if self.method == "dkd":
            warmup = min(1.0, epoch / max(1, self.cfg.dkd_warmup))
            return warmup * dkd_loss(s_logits, t_logits, labels, self.cfg.temperature, self.cfg.dkd_alpha,
                                     self.cfg.dkd_beta)
        if self.method == "fitnets":
            return sum(reg(s, t) for reg, s, t in zip(self.regressors, s_feats, t_feats))
        if self.method == "at":
            return sum(attention_loss(s, t) for s, t in zip(s_feats, t_feats))
        return sum(similarity_preserving_loss(s, t) for s, t in zip(s_feats, t_feats))

    def close(self) -> None:
        self.t_hooks.remove()
        self.s_hooks.remove()
