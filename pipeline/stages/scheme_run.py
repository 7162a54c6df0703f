"""What a distillation scheme gets to train the student with: the teacher artifact, the distill config, a fresh
student and the training loop (core/contracts/schemes.py is the contract; stages/schemes.py the built-ins)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from edgeship.pipeline.config.recipe import DistillConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.tasks import Task
from edgeship.pipeline.distillation.adapt import Reference
from edgeship.pipeline.models.checkpoints import load_backbone, load_checkpoint
from edgeship.pipeline.models.torch_artifact import arch_spec, build_from_spec, example_input, load_teacher
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.training.loop import seed_everything
from edgeship.pipeline.training.summary import TrainingSummary


def new_student(ctx: Context, seed: int) -> tuple[nn.Module, dict]:
    """The recipe's student, freshly initialized from `seed` (and its pretrained weights, if any)."""
    student = ctx.recipe.student
    spec = arch_spec(student.arch, student.args, ctx.data)
    seed_everything(seed)
    model = build_from_spec(spec)
    if student.backbone_checkpoint:
        load_backbone(Path(student.backbone_checkpoint), model, "student.backbone_checkpoint")
    if student.checkpoint:  # pretrained weights to start from (a head for other classes starts fresh)
        load_checkpoint(Path(student.checkpoint), model, "student.checkpoint", ctx.data.num_classes,
                        student.checkpoint_prefix)
    return model, spec


VAL_COUNTS = "val-counts.npz"  # the scratch student's per-image validation outcomes of each epoch


def fit_with(model: nn.Module, distiller, ctx: Context, out: Path, label: str,
             log_name: str = "train.csv", val_counts: Path | None = None) -> TrainingSummary:
    """Train `model` with the recipe's student training settings; the distiller (or None: plain labels) is closed
    after, whatever happens."""
    try:
        return fit(model, ctx.recipe.student.train, ctx, out, label, distiller, log_name=log_name,
                   val_counts=val_counts)
    finally:
        if distiller is not None:
            distiller.close()


def scratch_reference(scratch: Artifact | None, images: int) -> Reference | None:
    """The scratch student's validation curve (its train.csv) and, where it kept them, its per-image outcomes of
    each epoch: what adaptive KD compares the student with."""
    log = scratch.folder / "train.csv" if scratch is not None else None
    if log is None or not log.is_file():
        return None
    with log.open() as handle:
        curve = tuple(float(row["val_acc"]) for row in csv.DictReader(handle))
    counts = scratch.folder / VAL_COUNTS
    if not curve:
        return None
    return Reference(curve, images, np.load(counts)["counts"] if counts.is_file() else None)


@dataclass
class SchemeRun:
    source: Artifact        # the distilled stage's teacher: the recipe's teacher, or the scratch student
    cfg: DistillConfig
    ctx: Context
    out: Path               # the stage folder (training logs go here)
    stage: str              # the stage's name, for progress lines
    scratch: Artifact | None = None  # the scratch student, whose validation curve adaptive KD watches

    def reference(self) -> Reference | None:
        return scratch_reference(self.scratch, len(self.ctx.data.val)) if self.cfg.adapt else None

    @property
    def task(self) -> Task:
        return self.ctx.task

    @property
    def example(self):
        return example_input(self.ctx.data.preprocessing)

    def teacher(self) -> nn.Module:
        return load_teacher(self.source)

    def new_student(self, seed: int | None = None) -> tuple[nn.Module, dict]:
        return new_student(self.ctx, self.ctx.recipe.seed if seed is None else seed)

    def fit(self, model: nn.Module, distiller, label: str | None = None,
            log_name: str = "train.csv") -> TrainingSummary:
        return fit_with(model, distiller, self.ctx, self.out, label or self.stage, log_name)

    def build(self, source) -> nn.Module:
        """A fresh network of `source`'s architecture (a ModelConfig: the student's or the teacher's)."""
        return build_from_spec(arch_spec(source.arch, source.args, self.ctx.data))
