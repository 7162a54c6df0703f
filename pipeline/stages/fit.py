"""Shared by the stages that train: progress on the console, a CSV log, BatchNorm statistics re-estimated,
accuracy on the held-out splits, and the model's health (edgeship.pipeline.training.health)."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from edgeship.pipeline.config.recipe import TrainConfig
from edgeship.pipeline.core.infrastructure.progress import progress_bar
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.training import bn_recalibration, distributed, health
from edgeship.pipeline.training.family_defaults import optimizer_mismatch, with_family_defaults
from edgeship.pipeline.training.loop import accuracy, evaluate, train
from edgeship.pipeline.training.summary import TrainingSummary


def settle_batchnorm(model: nn.Module, cfg: TrainConfig, ctx: Context, val_before: float) -> dict:
    """Re-estimate BatchNorm statistics; keep them only if validation accuracy does not drop."""
    data, workers, task = ctx.data, ctx.recipe.data.workers, ctx.task
    saved = bn_recalibration.snapshot(model)
    images = bn_recalibration.recalibrate(model, data.train, cfg.recalibrate_bn, workers=workers)
    if not images:
        return {"images": 0, "val_before": val_before, "val_after": val_before, "kept": "trained"}
    val_after = accuracy(model, data.val, task, workers=workers)
    kept = "recalibrated"
    if val_after < val_before:
        bn_recalibration.restore(model, saved)
        kept = "trained"
    return {"images": images, "val_before": val_before, "val_after": val_after, "kept": kept}


def _test_scores(model: nn.Module, split, task, workers) -> tuple[float, dict | None]:
    """The test split's metric; dense tasks keep their details (pixel accuracy, IoU per class) beside it."""
    if len(split) == 0:
        return float("nan"), None
    details = evaluate(model, split, task, workers=workers)
    if "miou" not in details:
        return details["accuracy"], None
    return details["miou"], details


def health_problems(val: float, train_acc: float | None, ctx: Context) -> list[str]:
    """Why a model with this validation (and training) score must not ship, in the task's words."""
    task, data = ctx.task, ctx.data
    metric = "accuracy" if task.per_image_metric else task.metric_name
    chance = task.chance(data.num_classes) if task.chance else None
    return health.problems(val, train_acc, data.num_classes, metric, chance)


def fit(model: nn.Module, cfg: TrainConfig, ctx: Context, out: Path, label: str,
        distiller=None, log_name: str = "train.csv", finetune: bool = False,
        val_counts: Path | None = None) -> TrainingSummary:
    data = ctx.data
    workers = ctx.recipe.data.workers
    mismatch = optimizer_mismatch(cfg, model, finetune)
    if mismatch:
        ctx.say(f"  [yellow]{label}[/yellow]: {mismatch}")
    task_kind = ctx.task
    cfg = with_family_defaults(cfg, model, finetune, dense=task_kind.dense)

    with progress_bar(ctx.console) as bar:
        task = bar.add_task(f"{label} epochs", total=cfg.epochs, info="")

        def show(row: dict) -> None:
            bar.update(task, advance=1, info=(
                f"loss {row['loss']:.4f} (kd {row['kd']:.4f} ce {row['ce']:.4f})  "
                # nan: not measured this epoch (detection measures its train mAP on the last epoch only)
                + (f"train {row['train_acc']:.1f}%  " if row["train_acc"] == row["train_acc"] else "")
                + f"val {row['val_acc']:.1f}%  {row['images_per_s']:.0f} img/s"))

        history = train(model, data.train, data.val, cfg, ctx.recipe.seed, distiller, on_epoch=show,
                        log_csv=out / log_name, task=task_kind, workers=workers, val_counts=val_counts)
    batchnorm = settle_batchnorm(model, cfg, ctx, accuracy(model, data.val, task_kind, workers=workers))
    val = max(batchnorm["val_before"], batchnorm["val_after"])
    train_acc = history[-1]["train_acc"] if history else None
    found = health_problems(val, train_acc, ctx)
    if task_kind.dense and len(data.val):  # name the collapse into one class, where that is what happened
        collapse = health.one_class(evaluate(model, data.val, task_kind, workers=workers), data.labels)
        found += [collapse] if collapse else []
    stopped = history[-1].get("stopped") if history else None
    if stopped:
        found = [stopped, *found]
    if found:
        ctx.say(f"  [red]{label} is not fit to ship[/red]: {'; '.join(found)}")
    test_accuracy, test_segmentation = _test_scores(model, data.test, task_kind, workers)
    return TrainingSummary(
        epochs=cfg.epochs, warmup_epochs=cfg.warmup_epochs, optimizer=cfg.optimizer, lr=cfg.lr,
        schedule=cfg.schedule if cfg.schedule != "auto" else ("poly" if task_kind.dense else "cosine"),
        optimizer_note=mismatch, stopped=stopped, val_accuracy=val, train_accuracy=train_acc,
        test_accuracy=test_accuracy, test_segmentation=test_segmentation, batchnorm=batchnorm, health=found,
        teacher_logits=history[-1]["teacher_logits"] if history else "none",
        beta=history[-1].get("beta") if history else None,
        weak_teacher=distiller.guard_summary() if distiller is not None else None,
        adapted=distiller.adaptation_summary() if distiller is not None else None,
        seconds_per_epoch=sum(r["seconds"] for r in history) / len(history) if history else 0.0,
        world_size=distributed.world_size(), loss=ctx.loss_record)
