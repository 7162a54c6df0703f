"""Shared by the stages that train: progress on the console, a CSV log, accuracy on the held-out splits."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from pipeline.config.recipe import TrainConfig
from pipeline.core.progress import progress_bar
from pipeline.core.tasks import task_named
from pipeline.stages.context import Context
from pipeline.training import distributed
from pipeline.training.loop import accuracy, train


def fit(model: nn.Module, cfg: TrainConfig, ctx: Context, out: Path, label: str,
        distiller=None, log_name: str = "train.csv") -> dict:
    data = ctx.data
    x_train, x_val = data.inputs(data.x_train), data.inputs(data.x_val)

    with progress_bar(ctx.console) as bar:
        task = bar.add_task(f"{label} epochs", total=cfg.epochs, info="")

        def show(row: dict) -> None:
            bar.update(task, advance=1, info=(
                f"loss {row['loss']:.4f} (kd {row['kd']:.4f} ce {row['ce']:.4f})  train {row['train_acc']:.1f}%  "
                f"val {row['val_acc']:.1f}%  {row['images_per_s']:.0f} img/s"))

        history = train(model, x_train, data.y_train, x_val, data.y_val, cfg, ctx.recipe.seed, distiller,
                        on_epoch=show, log_csv=out / log_name, task=task_named(ctx.recipe.task))
    return {
        "epochs": cfg.epochs,
        "val_accuracy": accuracy(model, x_val, data.y_val),
        "test_accuracy": accuracy(model, data.inputs(data.x_test), data.y_test),
        "teacher_logits": history[-1]["teacher_logits"] if history else "none",
        "seconds_per_epoch": sum(r["seconds"] for r in history) / len(history) if history else 0.0,
        "world_size": distributed.world_size(),  # processes that trained it (DistributedDataParallel)
    }
