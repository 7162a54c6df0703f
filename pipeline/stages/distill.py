"""distill: train the student from the teacher with the recipe's method and scheme, or from scratch without one.

Schemes: offline (a trained, frozen teacher), online (deep mutual learning with peers trained alongside), self
(born_again: `src` is the scratch student, each generation teaches the next; deep_to_shallow: classifiers on the
student's shallow stages learn from its final output, `src` unused)."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from edgeship.pipeline.config.recipe import DistillConfig, LayerPair
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import StageId
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.distillation.deep_to_shallow import ShallowExits
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.distillation.exits import find_exits
from edgeship.pipeline.distillation.online import MutualLearning
from edgeship.pipeline.models.checkpoints import load_backbone, load_checkpoint
from edgeship.pipeline.models.torch_artifact import (
    arch_spec,
    build_from_spec,
    example_input,
    load_teacher,
    torch_artifact,
)
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.training.loop import seed_everything


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


def _fit_with(model: nn.Module, distiller, ctx: Context, out: Path, label: str, log_name: str = "train.csv") -> dict:
    try:
        return fit(model, ctx.recipe.student.train, ctx, out, label, distiller, log_name=log_name)
    finally:
        if distiller is not None:
            distiller.close()


def _online(model: nn.Module, cfg: DistillConfig, out: Path, ctx: Context, stage: str) -> dict:
    """Deep mutual learning: `cfg.peers` networks (the student's or the teacher's architecture) learn with it."""
    source = ctx.recipe.student if cfg.peer_arch == "student" else ctx.recipe.teacher
    peers = []
    for k in range(cfg.peers):
        seed_everything(ctx.recipe.seed + 1 + k)  # each peer its own initialization
        peers.append(build_from_spec(arch_spec(source.arch, source.args, ctx.data)))
    learning = MutualLearning(peers, cfg, task_named(ctx.recipe.task).loss)
    metrics = _fit_with(model, learning, ctx, out, stage)
    metrics["scheme"] = {"name": "online", "peers": cfg.peers, "peer_arch": cfg.peer_arch}
    return metrics


def _deep_to_shallow(model: nn.Module, cfg: DistillConfig, out: Path, ctx: Context, stage: str) -> dict:
    """Self-distillation within the student: a classifier after each shallow stage learns from the final output."""
    exits = find_exits(model, example_input(ctx.data.preprocessing), None if cfg.exits == "auto" else cfg.exits)
    heads = ShallowExits(model, exits, ctx.data.num_classes, cfg, task_named(ctx.recipe.task).loss)
    metrics = _fit_with(model, heads, ctx, out, stage)
    metrics["scheme"] = {"name": "self", "mode": "deep_to_shallow", "exits": [e.name for e in exits.shallow]}
    return metrics


def _born_again(first_teacher: nn.Module, cfg: DistillConfig, out: Path, ctx: Context, stage: str):
    """Self-distillation across generations: generation g learns from generation g - 1 (the scratch student
    first); the last generation is the stage's model. Feature pairs name student layers on both sides."""
    pairs = [LayerPair(teacher=p.student, student=p.student) for p in cfg.layers]
    same_arch = cfg.model_copy(update={"layers": pairs})
    teacher, per_generation = first_teacher, []
    task = task_named(ctx.recipe.task)
    for generation in range(1, cfg.generations + 1):
        model, spec = new_student(ctx, ctx.recipe.seed + generation)
        # no weak-teacher guard: a born-again student is meant to overtake its teacher and keep learning from it
        distiller = Distiller(teacher, model, same_arch, example_input(ctx.data.preprocessing), task.loss)
        metrics = _fit_with(model, distiller, ctx, out, f"{stage} generation {generation}/{cfg.generations}",
                            log_name=f"train-gen{generation}.csv")
        per_generation.append({"generation": generation, "val_accuracy": metrics["val_accuracy"]})
        teacher = model
    metrics["scheme"] = {"name": "self", "mode": "born_again", "generations": per_generation}
    return model, spec, metrics


def run(src: Artifact | None, cfg: DistillConfig, out: Path, ctx: Context, key: str, sid: StageId) -> Artifact:
    seed, stage = ctx.recipe.seed, sid.name
    if src is not None and cfg.born_again:
        model, spec, metrics = _born_again(load_teacher(src), cfg, out, ctx, stage)
    else:
        model, spec = new_student(ctx, seed)
        if src is None:
            metrics = _fit_with(model, None, ctx, out, stage)
        elif cfg.scheme == "online":
            metrics = _online(model, cfg, out, ctx, stage)
        elif cfg.scheme == "self":
            metrics = _deep_to_shallow(model, cfg, out, ctx, stage)
        else:
            distiller = Distiller(load_teacher(src), model, cfg, example_input(ctx.data.preprocessing),
                                  task_named(ctx.recipe.task).loss, teacher_accuracy=src.metrics.get("val_accuracy"))
            metrics = _fit_with(model, distiller, ctx, out, stage)
            metrics["scheme"] = {"name": "offline"}
    metrics["method"] = cfg.method if src is not None else "scratch"
    return torch_artifact(out, model, key=key, parent=src.key if src else None, sid=sid, spec=spec,
                          data=ctx.data, extra_metrics=metrics)
