"""distill: train the student with Hinton KD from the teacher, or from scratch when there is no teacher."""
from __future__ import annotations

from pathlib import Path

from pipeline.artifact import Artifact
from pipeline.context import Context
from pipeline.recipe import DistillConfig
from pipeline.stages.training import fit
from pipeline.torch_artifact import arch_spec, build_from_spec, load_torch_model, torch_artifact
from pipeline.train import Teaching, seed_everything


def run(src: Artifact | None, cfg: DistillConfig, out: Path, ctx: Context, key: str, stage: str) -> Artifact:
    student = ctx.recipe.student
    spec = arch_spec(student.arch, student.args, ctx.data)
    seed_everything(ctx.recipe.seed)
    model = build_from_spec(spec)
    teaching = None
    if src is not None:
        teaching = Teaching(load_torch_model(src), cfg.temperature, cfg.alpha)
    metrics = fit(model, student.train, ctx, out, stage, teaching)
    metrics["method"] = cfg.method if teaching else "scratch"
    return torch_artifact(out, model, key=key, parent=src.key if src else None, stage=stage, spec=spec,
                          data=ctx.data, extra_metrics=metrics)
