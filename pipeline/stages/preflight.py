"""Inputs the training stages would refuse late (an unknown architecture, a factory that does not import, a
checkpoint that is missing, holds code or does not fit, an ONNX teacher of the wrong shape), checked before the
run prints or trains anything: bad input is one line and nothing else."""
from __future__ import annotations

from pathlib import Path

from edgeship.pipeline.config.recipe import ModelConfig, Recipe
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import Dataset
from edgeship.pipeline.models.checkpoints import load_backbone, load_checkpoint
from edgeship.pipeline.models.onnx_teacher import OnnxTeacher
from edgeship.pipeline.models.torch_artifact import arch_spec, build_from_spec
from edgeship.pipeline.training import devices


def _check_onnx_teacher(recipe: Recipe, data: Dataset) -> None:
    if not recipe.teacher.checkpoint:
        raise EdgeshipError("teacher.checkpoint: arch 'onnx' needs the ONNX file as its checkpoint")
    method = recipe.distill.method
    if METHODS.get(method, "distill.method").needs_layers:
        raise EdgeshipError(f"distill.method: {method!r} needs a torch teacher's layers; an ONNX teacher gives "
                            "logits only (use kd or dkd)")
    pre = data.preprocessing
    OnnxTeacher(Path(recipe.teacher.checkpoint)).check(pre["channels"], pre["size"], data.num_classes)


def _check_torch_model(cfg: ModelConfig, field: str, data: Dataset) -> None:
    model = build_from_spec(arch_spec(cfg.arch, cfg.args, data))
    if cfg.backbone_checkpoint:
        load_backbone(Path(cfg.backbone_checkpoint), model, f"{field}.backbone_checkpoint")
    if cfg.checkpoint:
        replaced = load_checkpoint(Path(cfg.checkpoint), model, f"{field}.checkpoint", data.num_classes,
                                   cfg.checkpoint_prefix)
        if replaced and field == "teacher" and cfg.train.epochs == 0:
            raise EdgeshipError(f"teacher.train.epochs: 0, but the checkpoint's head ({replaced[0]}) is for another "
                                f"class count than the data's {data.num_classes}: the new head needs training")


def check_models(recipe: Recipe, data: Dataset) -> None:
    for field, train in (("teacher.train", recipe.teacher.train), ("student.train", recipe.student.train),
                         ("prune.finetune", recipe.prune.finetune)):
        devices.require(train.device, f"{field}.device")
    if recipe.student.arch == "onnx":
        raise EdgeshipError("student.arch: 'onnx' is for a teacher only (a student must be trainable)")
    if recipe.teacher.arch == "onnx":
        _check_onnx_teacher(recipe, data)
    else:
        _check_torch_model(recipe.teacher, "teacher", data)
    _check_torch_model(recipe.student, "student", data)
