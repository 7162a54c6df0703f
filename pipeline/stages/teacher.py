"""teacher: train it from the recipe, load a weights-only checkpoint (a head for another class count replaced and
fine-tuned), or take an ONNX file as it is (logits only)."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from edgeship.pipeline.config.recipe import ModelConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import TEACHER
from edgeship.pipeline.models.checkpoints import load_backbone, load_checkpoint
from edgeship.pipeline.models.onnx_teacher import OnnxTeacher
from edgeship.pipeline.models.torch_artifact import arch_spec, build_from_spec, input_spec, torch_artifact
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit, health_problems
from edgeship.pipeline.training.loop import accuracy, seed_everything

ONNX_TEACHER_FILE = "teacher.onnx"


def run(src: Artifact | None, cfg: ModelConfig, out: Path, ctx: Context, key: str) -> Artifact:
    if cfg.arch == "onnx":
        return _onnx(cfg, out, ctx, key)
    spec = arch_spec(cfg.arch, cfg.args, ctx.data)
    seed_everything(ctx.recipe.seed)
    model = build_from_spec(spec)
    data = ctx.data
    if cfg.backbone_checkpoint:  # pretrained backbone weights; the rest of the model trains from scratch
        load_backbone(Path(cfg.backbone_checkpoint), model, "teacher.backbone_checkpoint")
    if not cfg.checkpoint:
        metrics = {"source": "trained", **fit(model, cfg.train, ctx, out, "teacher").to_metrics()}
    else:
        replaced = load_checkpoint(Path(cfg.checkpoint), model, "teacher.checkpoint", data.num_classes,
                                   cfg.checkpoint_prefix)
        if replaced:  # a checkpoint for other classes: the new head learns, the rest fine-tunes
            metrics = {"source": "checkpoint, new head fine-tuned", "replaced": replaced,
                       **fit(model, cfg.train, ctx, out, "teacher (fine-tune)").to_metrics()}
        else:
            metrics = _as_loaded(model, "checkpoint", ctx)
    return torch_artifact(out, model, key=key, parent=None, sid=TEACHER, spec=spec, data=data,
                          extra_metrics=metrics)


def _as_loaded(model, source: str, ctx: Context) -> dict:
    """A teacher taken as it is: its scores, and whether it is fit to teach (a checkpoint of the wrong model)."""
    val = accuracy(model, ctx.data.val, ctx.task)
    return {"source": source, "val_accuracy": val, "test_accuracy": accuracy(model, ctx.data.test, ctx.task),
            "health": health_problems(val, None, ctx)}


def _onnx(cfg: ModelConfig, out: Path, ctx: Context, key: str) -> Artifact:
    data = ctx.data
    shutil.copy2(cfg.checkpoint, out / ONNX_TEACHER_FILE)
    model = OnnxTeacher(out / ONNX_TEACHER_FILE)
    metrics = _as_loaded(model, "onnx file", ctx)
    return Artifact.made(replace(TEACHER, format="onnx"), folder=out, file=ONNX_TEACHER_FILE, key=key, parent=None,
                         inputs=[input_spec(data.preprocessing, "input")], preprocessing=data.preprocessing,
                         labels=data.labels, arch={"arch": "onnx", "num_classes": data.num_classes}, metrics=metrics)
