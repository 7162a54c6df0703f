"""Distiller: one object that turns (student output, labels, batch) into the training loss of any method.

loss = (1 - alpha) * CE + alpha * KD(T) + beta * method loss, the method being any registered in
core/contracts/plugins.py METHODS (FitNets hints, attention transfer, similarity preservation, DKD, ...). The
teacher is frozen (offline distillation). Without augmentation its outputs for a training image never change,
so they are computed once and reused every epoch.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.config.distill import LayerPair
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.core.contracts.tasks import first_output
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.loaders import eval_loader, iterate
from edgeship.pipeline.distillation.adapt import Adaptation, Reference
from edgeship.pipeline.distillation.guard import meter_value, paired_difference, per_image_counts
from edgeship.pipeline.distillation.hooks import FeatureHooks
from edgeship.pipeline.distillation.logit import dist_loss, kd_loss

CACHE_LIMIT_BYTES = 3 * 1024 ** 3
AUTO_BATCHES = 10  # beta: auto is the mean ratio over this many first batches, then fixed


def model_pairs(teacher: nn.Module, student: nn.Module) -> list[LayerPair]:
    """The layer pairs two models name themselves (`feature_layers()`: a detector's FPN levels), where both name
    the same number; else none."""
    names = [getattr(m, "feature_layers", lambda: [])() for m in (teacher, student)]
    if not names[0] or len(names[0]) != len(names[1]):
        return []
    return [LayerPair(teacher=t, student=s) for t, s in zip(*names)]


class Distiller(nn.Module):
    def __init__(self, teacher: nn.Module, student: nn.Module, cfg, example: torch.Tensor,
                 supervised_loss=F.cross_entropy, teacher_accuracy: float | None = None,
                 reference: Reference | None = None):
        super().__init__()
        self.cfg = cfg
        # Adaptive KD (distillation/adapt.py): alpha, temperature and the logit loss as the scratch student's
        # curve calls for them; without a reference (or with distill.adapt off) they stay the recipe's.
        self.adaptation = (Adaptation(reference, cfg.alpha, cfg.kd_temperature)
                           if reference is not None and getattr(cfg, "adapt", False) else None)
        # Weak-teacher guard: the teacher's validation accuracy, and the factor on its weight once the student
        # has caught up with it (end_epoch).
        self.teacher_accuracy = teacher_accuracy
        self.teacher_weight = 1.0
        self.guard_epochs: list[int] = []
        self.guard_evidence: dict | None = None  # the first comparison that made the guard act
        self._teacher_counts = None
        self.supervised_loss = supervised_loss  # the task's own term (per-pixel CE for segmentation)
        self.method = cfg.method
        self.method_module = METHODS.get(cfg.method, "distill.method")(cfg)  # the method, with its learned parts
        # beta: auto starts from nothing and is set by the first batches (_auto_beta); paper = published default
        self.auto = cfg.beta == "auto" and self.method_module.auto_balance
        self.beta = (None if self.auto else self.method_module.default_beta if cfg.beta in ("auto", "paper")
                     else float(cfg.beta))
        self._ratios: list[tuple[float, float]] = []
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        takes_layers = self.method_module.needs_layers or self.method_module.optional_layers
        pairs = (cfg.layers or model_pairs(teacher, student)) if takes_layers else []
        if self.method_module.needs_layers and not pairs:
            raise EdgeshipError(f"distill.layers: method {cfg.method!r} needs teacher/student layer pairs, "
                                "e.g. [{teacher: layer2, student: features.3}]")
        self.pairs = pairs
        self.t_hooks = FeatureHooks(teacher, [p.teacher for p in pairs], "distill.layers.teacher")
        self.s_hooks = FeatureHooks(student, [p.student for p in pairs], "distill.layers.student")
        if pairs or self.method_module.checks_outputs:
            self._probe(student, example)
        self.hint_epochs = self.method_module.hint_epochs
        self.epochs: int | None = None  # set by prepare(): the run's length, for beta's schedule
        self.cache: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None
        self._several_outputs = False

    def _probe(self, student: nn.Module, example: torch.Tensor) -> None:
        """One forward pass to learn the feature shapes: rejects unusable layers and outputs the method cannot
        pair, lets the method build its learned parts (FitNets' regressors)."""
        was_training = student.training
        student.eval()
        with torch.no_grad():
            outputs = student(example), self.teacher(example)
        student.train(was_training)
        self.method_module.check_outputs(*outputs)
        for pair, s, t in zip(self.pairs, self.s_hooks.features(), self.t_hooks.features()):
            if s.dim() != 4 or t.dim() != 4:
                raise EdgeshipError(f"distill.layers: {pair.student!r} / {pair.teacher!r} must give NCHW feature "
                                    f"maps, got shapes {tuple(s.shape)} and {tuple(t.shape)}")
        self.method_module.setup(self.s_hooks.features(), self.t_hooks.features())

    @property
    def teacher_logits_mode(self) -> str:
        return "cached" if self.cache is not None else "live"

    @torch.no_grad()
    def prepare(self, train_split, augment: bool, batch_size: int | None = None, workers: int | None = None,
                epochs: int | None = None, steps: int | None = None) -> None:
        """Cache the teacher's logits (and hint features, in fp16) by the images' positions in the split, when
        every epoch shows it the same inputs. `epochs`: the run's length, for beta's schedule (`steps`: its
        optimizer steps, unused here)."""
        self.epochs = epochs
        self.method_module.bind(len(train_split))
        if augment or not self.cfg.cache_teacher:
            return
        logits, feats = [], []
        device = next(self.method_module.parameters(), next(self.teacher.parameters(), torch.zeros(()))).device
        for xb, _, _ in iterate(eval_loader(train_split, batch_size, workers)):
            outputs = self.teacher(train_split.to_inputs(xb.to(device)))
            self._several_outputs = isinstance(outputs, (tuple, list))  # a detector's head: kept as it came
            logits.append(tuple(outputs) if self._several_outputs else (outputs,))
            feats.append([f.half() for f in self.t_hooks.features()])
            if len(feats) == 1:  # dense logits (segmentation) count as much as feature maps
                per_sample = sum(o[0].numel() for o in logits[0]) * 4 + sum(f[0].numel() * 2 for f in feats[0])
                if per_sample * len(train_split) > CACHE_LIMIT_BYTES:
                    return  # too big to keep: the teacher runs live
        stacked = [torch.cat([batch[k] for batch in feats]) for k in range(len(self.t_hooks.names))]
        self.cache = ([torch.cat([batch[k] for batch in logits]) for k in range(len(logits[0]))], stacked)

    def _teacher_outputs(self, idx: torch.Tensor, xb: torch.Tensor):
        if self.cache is not None:
            outputs = tuple(o[idx] for o in self.cache[0])
            return (outputs if self._several_outputs else outputs[0]), [f[idx].float() for f in self.cache[1]]
        with torch.no_grad():
            return self.teacher(xb), self.t_hooks.features()

    def loss(self, student_logits: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor, xb: torch.Tensor,
             epoch: int) -> tuple[torch.Tensor, dict]:
        t_logits, t_feats = self._teacher_outputs(idx, xb)
        s_feats = self.s_hooks.features()
        extra = {"indices": idx} if self.method_module.needs_indices else {}
        method = self.method_module.loss(student_logits, t_logits, s_feats, t_feats, labels, epoch, **extra)
        ce = self.supervised_loss(student_logits, labels)
        teacher_weight = self.teacher_weight * self.teacher_on
        alpha = (self.adaptation.alpha if self.adaptation else self.cfg.alpha) * teacher_weight
        logit_loss = dist_loss if self.adaptation and self.adaptation.logit_loss == "dist" else kd_loss
        kd = (logit_loss(first_output(student_logits), first_output(t_logits), self.temperature) if alpha > 0
              else torch.zeros(()))  # several outputs (a detector's): the class scores
        logit_terms = (1 - alpha) * ce + alpha * kd
        beta = (self._auto_beta(logit_terms.item(), method.item()) if len(self._ratios) < AUTO_BATCHES
                else self.beta)  # what the report states; the guard and the schedule scale it below
        weight = beta * teacher_weight * self._schedule(epoch)
        if epoch <= self.hint_epochs:  # FitNets stage 1: only the hint trains the student's lower part
            return weight * method, {"ce": 0.0, "kd": 0.0, self.method: method.item(), "beta": beta}
        parts = {"ce": ce.item(), "kd": kd.item()}
        if self.method != "kd":
            parts[self.method], parts["beta"] = method.item(), beta
        return logit_terms + weight * method, parts

    def _auto_beta(self, reference: float, method: float) -> float:
        """beta: auto sets beta x method loss = balance x the logit terms it joins ((1 - alpha) CE + alpha KD, the
        cross entropy alone at alpha 0), over the mean of the first AUTO_BATCHES batches (a method whose loss
        starts at zero keeps its published default). A set beta stays as it is."""
        if not self.auto:
            self._ratios = [(0.0, 0.0)] * AUTO_BATCHES  # nothing to estimate
            return self.beta
        self._ratios.append((reference, method))
        reference_mean = sum(r for r, _ in self._ratios) / len(self._ratios)
        method_mean = sum(m for _, m in self._ratios) / len(self._ratios)
        self.beta = (self.cfg.balance * reference_mean / method_mean if method_mean > 0
                     else self.method_module.default_beta)
        return self.beta

    def _schedule(self, epoch: int) -> float:
        """beta_schedule cosine: the method's term fades from full weight in the first epoch after the hints to
        nearly nothing in the last, so the student ends on its labels (and KD) alone; constant: 1."""
        kd_epochs = (self.epochs or 0) - self.hint_epochs
        if self.cfg.beta_schedule == "constant" or epoch <= self.hint_epochs or kd_epochs <= 1:
            return 1.0
        progress = (epoch - self.hint_epochs - 1) / kd_epochs  # 0 in the first epoch, (n-1)/n in the last
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def compare_with_teacher(self, epoch: int, val_accuracy: float, student: nn.Module, val_split, task) -> dict | None:
        """Weak-teacher guard, its evidence (rank 0): once the student's validation score has reached the teacher's,
        student - teacher image by image on the validation split with its 95% interval (guard.py); None when the
        guard does not apply or the student is still behind."""
        if (self.teacher_accuracy is None or val_accuracy != val_accuracy or epoch <= self.hint_epochs
                or val_accuracy < self.teacher_accuracy or self.cfg.weak_teacher_decay >= 1.0 or not len(val_split)
                or not task.additive_counts):
            return None
        if self._teacher_counts is None:  # the frozen teacher's per-image outcomes never change
            self._teacher_counts = per_image_counts(self.teacher, val_split, task)
        counts, classes = per_image_counts(student, val_split, task)
        teacher_counts, _ = self._teacher_counts
        found = paired_difference(counts, teacher_counts, meter_value(task, classes), seed=epoch)
        return {"epoch": epoch, **found.as_dict()}

    def compare_with_scratch(self, epoch: int, student: nn.Module, val_split, task) -> dict | None:
        """Adaptive KD's evidence (rank 0): student - scratch image by image on the validation split at this
        epoch, with its 95% interval; None where the scratch student kept no per-image counts."""
        scratch = self.adaptation.reference.counts_at(epoch) if self.adaptation is not None else None
        if scratch is None or not task.additive_counts:
            return None
        counts, classes = per_image_counts(student, val_split, task)
        if counts.shape != scratch.shape:
            return None
        return paired_difference(counts, scratch, meter_value(task, classes), seed=epoch).as_dict()

    @property
    def temperature(self) -> float:
        return self.adaptation.temperature if self.adaptation else self.cfg.kd_temperature

    @property
    def teacher_on(self) -> float:
        return 0.0 if self.adaptation and not self.adaptation.teacher_on else 1.0

    def end_epoch(self, epoch: int, comparison: dict | None, val_accuracy: float = float("nan"),
                  scratch: dict | None = None) -> bool:
        """Adaptive KD: a student measurably behind the scratch student at this epoch gets its next adaptation
        (adapt.py; `scratch`: compare_with_scratch's paired evidence) and the epoch is trained again from where
        it began (returns True: the loop rewinds).
        Weak-teacher guard: a student measurably ahead of its teacher (the interval's lower end above zero) has
        little left to learn from it and much to unlearn, so the teacher's weight (alpha, beta) decays after each
        such epoch. A tie, or a lead inside the noise of the validation split, changes nothing."""
        if self.adaptation is not None and self.adaptation.after_epoch(epoch, val_accuracy, scratch) is not None:
            return True  # the guard judges the epoch once it is trained again
        if comparison is None or not comparison["low"] > 0:
            return False
        self.teacher_weight *= self.cfg.weak_teacher_decay
        self.guard_epochs.append(epoch)
        self.guard_evidence = self.guard_evidence or comparison
        return False

    def adaptation_summary(self) -> dict | None:
        """What adaptive KD watched and did (None: it did not watch)."""
        return self.adaptation.summary() if self.adaptation is not None else None

    def guard_summary(self) -> dict | None:
        """What the weak-teacher guard did, for the stage's metrics and the report (None: it never fired)."""
        if not self.guard_epochs:
            return None
        return {"teacher_val": self.teacher_accuracy, "epochs": self.guard_epochs, "weight": self.teacher_weight,
                "evidence": self.guard_evidence}

    def close(self) -> None:
        self.t_hooks.remove()
        self.s_hooks.remove()
