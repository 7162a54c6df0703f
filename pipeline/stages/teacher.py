"""teacher: load a weights-only checkpoint, or train the teacher from the recipe."""
from __future__ import annotations

from pathlib import Path

from pipeline.config.recipe import ModelConfig
from pipeline.core.artifact import Artifact
from pipeline.models.torch_artifact import arch_spec, build_from_spec, load_checkpoint, torch_artifact
from pipeline.stages.context import Context
from pipeline.stages.fit import fit
from pipeline.training.loop import accuracy, seed_everything


def run(src: Artifact | None, cfg: ModelConfig, out: Path, ctx: Context, key: str) -> Artifact:
    spec = arch_spec(cfg.arch, cfg.args, ctx.data)
    seed_everything(ctx.recipe.seed)
    model = build_from_spec(spec)
    data = ctx.data
    if cfg.checkpoint:
        load_checkpoint(Path(cfg.checkpoint), model, "teacher.checkpoint")
        metrics = {"source": "checkpoint",
                   "val_accuracy": accuracy(model, data.val), "test_accuracy": accuracy(model, data.test)}
    else:
        metrics = {"source": "trained", **fit(model, cfg.train, ctx, out, "teacher")}
    return torch_artifact(out, model, key=key, parent=None, stage="teacher", spec=spec, data=data,
                          extra_metrics=metrics)
