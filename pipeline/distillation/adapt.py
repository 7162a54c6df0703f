"""Adaptive KD: the distilled student is watched against the scratch student's validation curve, epoch by epoch,
and its distillation is changed when it falls behind instead of finishing a ruined student.

Students far from their teacher in capacity or inductive bias, or regularized on their own (stochastic depth,
dropout), learn poorly from sharpened soft targets weighted at 0.9 (Cho & Hariharan, ICCV 2019; DIST, Huang et
al. 2022). When the student's validation score at an epoch is below the scratch student's at the same epoch by
more than the 95% interval of the difference, the next step of ADAPTATIONS is taken and the epoch is trained
again from where it began (training/loop.py rewinds weights, optimizer, schedule): a student ruined in its first
epoch stays ruined whatever is changed later (EfficientNet-B0, 3 epochs: KD at alpha 0.9 was at chance after
epoch 1 against scratch's 20%, and changing alpha from epoch 2 on ended 10 points under scratch). Still behind,
the next step, and so on. Where the scratch student left its per-image outcomes of each epoch (classification,
segmentation: the task's meter counts per image), the two are compared image by image (the weak-teacher guard's
paired bootstrap, guard.py), an interval tighter than two unpaired proportions the fewer images the two
disagree on: on 1000 validation images MobileNetV2 lost 2.2 points to KD inside the unpaired interval (about 3.5).
The steps:
  1. alpha to at most 0.5: the labels get at least half of the logit terms (Cho & Hariharan);
  2. temperature halved, not below 1: softer targets carry less of a far teacher's dark knowledge;
  3. the KL term replaced by DIST's correlation loss (robust to a large gap, Huang et al. 2022);
  4. the teacher switched off: labels alone for the rest of the run (early-stopped KD, Cho & Hariharan).
Every step is recorded with the figures that called for it; at most len(ADAPTATIONS) epochs are trained again, and
the last step trains on the labels alone, as the scratch student did.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.96
ADAPTATIONS = ("alpha", "temperature", "dist", "teacher off")
ALPHA_CAP = 0.5
MIN_TEMPERATURE = 1.0


def difference_half_width(a: float, b: float, images: int) -> float:
    """95% half-width, in points, of the difference of two scores in percent measured on the same `images`
    images, each taken as a proportion (unpaired: the scratch student's per-image outcomes are gone by now)."""
    if images <= 0:
        return float("inf")
    p, q = a / 100, b / 100
    variance = (p * (1 - p) + q * (1 - q)) / images
    return 100 * Z95 * math.sqrt(max(variance, 0.0))


@dataclass(frozen=True)
class Reference:
    """The scratch student's validation score after each epoch (percent), on `images` validation images, and
    where it kept them, its per-image meter counts of each epoch (epochs, images, *counts)."""
    curve: tuple[float, ...]
    images: int
    counts: np.ndarray | None = field(default=None, compare=False)

    def at(self, epoch: int) -> float | None:
        if 1 <= epoch <= len(self.curve) and self.curve[epoch - 1] == self.curve[epoch - 1]:
            return self.curve[epoch - 1]
        return None

    def counts_at(self, epoch: int) -> np.ndarray | None:
        """The scratch student's per-image counts after `epoch`, where it kept them for the same images."""
        if self.counts is None or not 1 <= epoch <= len(self.counts) or self.counts.shape[1] != self.images:
            return None
        return self.counts[epoch - 1]


class Adaptation:
    """The distillation settings the loss reads (alpha, temperature, logit loss, teacher on), changed by
    `after_epoch` when the student is measurably behind its scratch twin."""

    def __init__(self, reference: Reference, alpha: float, temperature: float):
        self.reference = reference
        self.alpha, self.temperature = alpha, temperature
        self.logit_loss = "kl"
        self.teacher_on = True
        self.actions: list[dict] = []
        self._taken = 0

    def behind(self, epoch: int, val: float, paired: dict | None = None) -> dict | None:
        """The evidence that the student is behind scratch at `epoch`, or None. `paired`: student - scratch image
        by image with its 95% interval (guard.Difference.as_dict); without it, two unpaired proportions."""
        scratch = self.reference.at(epoch)
        if scratch is None or val != val:
            return None
        if paired is not None:
            if not paired["high"] < 0:
                return None
            margin = (paired["high"] - paired["low"]) / 2
        else:
            margin = difference_half_width(val, scratch, self.reference.images)
            if val >= scratch - margin:
                return None
        evidence = {"epoch": epoch, "student_val": round(val, 3), "scratch_val": round(scratch, 3),
                    "margin": round(margin, 3), "paired": paired is not None}
        return evidence | ({"high": round(paired["high"], 3)} if paired is not None else {})

    def after_epoch(self, epoch: int, val: float, paired: dict | None = None) -> dict | None:
        """Take the next adaptation if the student is behind at this epoch; the action taken, or None."""
        evidence = self.behind(epoch, val, paired)
        while evidence is not None and self._taken < len(ADAPTATIONS):
            step = ADAPTATIONS[self._taken]
            self._taken += 1
            changed = self._apply(step)
            if changed is not None:  # a step that would change nothing (alpha already low) gives way to the next
                action = {**evidence, "action": step, **changed}
                self.actions.append(action)
                return action
        return None

    def _apply(self, step: str) -> dict | None:
        if step in ("temperature", "dist") and self.alpha == 0:  # no logit term to soften or replace
            return None
        if step == "alpha":
            if self.alpha <= ALPHA_CAP:
                return None
            before, self.alpha = self.alpha, ALPHA_CAP
            return {"from": before, "to": self.alpha}
        if step == "temperature":
            if self.temperature <= MIN_TEMPERATURE:
                return None
            before, self.temperature = self.temperature, max(MIN_TEMPERATURE, self.temperature / 2)
            return {"from": before, "to": self.temperature}
        if step == "dist":
            self.logit_loss = "dist"
            return {"from": "kl", "to": "dist"}
        self.teacher_on = False
        return {"from": "on", "to": "off"}

    def summary(self) -> dict:
        return {"reference": "scratch", "images": self.reference.images,
                "paired": self.reference.counts_at(1) is not None, "actions": list(self.actions),
                "alpha": self.alpha, "temperature": self.temperature, "logit_loss": self.logit_loss,
                "teacher_on": self.teacher_on}


def said(action: dict) -> str:
    """One action in words: 'epoch 2: alpha 0.9 -> 0.5 (val 61.2% against scratch 66.0% +- 2.1)'."""
    return (f"epoch {action['epoch']}: {action['action']} {action['from']} -> {action['to']} (val "
            f"{action['student_val']:.2f}% against scratch {action['scratch_val']:.2f}% +- {action['margin']:.2f})")
