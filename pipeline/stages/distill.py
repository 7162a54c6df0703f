"""distill: train the student from the teacher with the recipe's method, or from scratch without a teacher."""
from __future__ import annotations

from pathlib import Path

from pipeline.config.recipe import DistillConfig
from pipeline.core.artifact import Artifact
from pipeline.core.tasks import task_named
from pipeline.distillation.distiller import Distiller
from pipeline.models.checkpoints import load_backbone, load_checkpoint
from pipeline.models.torch_artifact import arch_spec, build_from_spec, example_input, load_teacher, torch_artifact
from pipeline.stages.context import Context
from pipeline.stages.fit import fit
from pipeline.training.loop import seed_everything


def run(src: Artifact | None, cfg: DistillConfig, out: Path, ctx: Context, key: str, stage: str) -> Artifact:
    student = ctx.recipe.student
    spec = arch_spec(student.arch, student.args, ctx.data)
    seed_everything(ctx.recipe.seed)
    model = build_from_spec(spec)
    if student.backbone_checkpoint:
        load_backbone(Path(student.backbone_checkpoint), model, "student.backbone_checkpoint")
    if student.checkpoint:  # pretrained weights to start from (a head for other classes starts fresh)
        load_checkpoint(Path(student.checkpoint), model, "student.checkpoint", ctx.data.num_classes,
                        student.checkpoint_prefix)
    distiller = None
    if src is not None:
        distiller = Distiller(load_teacher(src), model, cfg, example_input(ctx.data.preprocessing),
                              task_named(ctx.recipe.task).loss)
    try:
        metrics = fit(model, student.train, ctx, out, stage, distiller)
    finally:
        if distiller is not None:
            distiller.close()
    metrics["method"] = cfg.method if distiller else "scratch"
    return torch_artifact(out, model, key=key, parent=src.key if src else None, stage=stage, spec=spec,
                          data=ctx.data, extra_metrics=metrics)
