"""Inputs the training stages would refuse late (an unknown architecture, a factory that does not import, a
checkpoint that is missing, holds code or does not fit), checked before the run prints or trains anything: bad
input is one line and nothing else."""
from __future__ import annotations

from pathlib import Path

from pipeline.config.recipe import Recipe
from pipeline.data.datasets import Dataset
from pipeline.models.torch_artifact import arch_spec, build_from_spec, load_checkpoint


def check_models(recipe: Recipe, data: Dataset) -> None:
    teacher = build_from_spec(arch_spec(recipe.teacher.arch, recipe.teacher.args, data))
    if recipe.teacher.checkpoint:
        load_checkpoint(Path(recipe.teacher.checkpoint), teacher, "teacher.checkpoint")
    build_from_spec(arch_spec(recipe.student.arch, recipe.student.args, data))
