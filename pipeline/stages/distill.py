"""distill: train the student from the teacher with the recipe's method and scheme (SCHEMES: offline, online,
self or a plug-in's), or from scratch without one."""
from __future__ import annotations

from pathlib import Path

from edgeship.pipeline.config.recipe import DistillConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.schemes import scheme_named
from edgeship.pipeline.core.contracts.stage_graph import StageId
from edgeship.pipeline.models.torch_artifact import torch_artifact
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.scheme_run import VAL_COUNTS, SchemeRun, fit_with, new_student


def run(src: Artifact | None, cfg: DistillConfig, out: Path, ctx: Context, key: str, sid: StageId,
        scratch: Artifact | None = None) -> Artifact:
    """`scratch`: the scratch student, which adaptive KD compares the distilled student with."""
    if src is None:
        model, spec = new_student(ctx, ctx.recipe.seed)
        # the scratch student's per-image outcomes: adaptive KD compares the distilled student with them paired
        counts = out / VAL_COUNTS if ctx.recipe.distill.adapt else None
        summary = fit_with(model, None, ctx, out, sid.name, val_counts=counts)
    else:
        model, spec, summary = scheme_named(cfg.scheme).train(SchemeRun(src, cfg, ctx, out, sid.name, scratch))
    metrics = {**summary.to_metrics(), "method": cfg.method if src is not None else "scratch"}
    return torch_artifact(out, model, key=key, parent=src.key if src else None, sid=sid, spec=spec,
                          data=ctx.data, extra_metrics=metrics)
