"""The eval set the device agent scores and times a model on: written once per run, data and size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.core.infrastructure.atomic import write_atomic
from edgeship.pipeline.stages.context import Context
from edgeship.targets.agent import Ragged


def write_eval_set(ctx: Context, count: int | None = None) -> Path:
    """The test split (or `count` of it, stratified; bench.eval_samples by default) as uint8 images at the model's
    size, with the normalization the agent applies: a quarter of the bytes of float inputs."""
    count = ctx.recipe.bench.eval_samples if count is None else count
    metric = task_named(ctx.recipe.task).device_metric  # how the agent scores them: the task says, not the shape
    path = ctx.run.root / "data" / f"eval-{ctx.data.key}-{count or 'all'}-{metric}.npz"
    if not path.exists():
        # targets: labels, masks (N, H, W), or a variable number per image (Ragged: flat rows and offsets)
        images, targets = ctx.data.test.sample(count).arrays()
        labels = ({"labels": targets.flat, "label_offsets": targets.offsets} if isinstance(targets, Ragged)
                  else {"labels": targets})
        pre = ctx.data.preprocessing
        write_atomic(path, lambda tmp: np.savez(
            tmp, images=images, **labels, metric=np.str_(metric), scale=np.float32(pre["scale"]),
            mean=np.asarray(pre["mean"], np.float32), std=np.asarray(pre["std"], np.float32)), suffix=".npz")
    return path
