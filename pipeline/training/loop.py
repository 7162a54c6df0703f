"""Training and evaluation loops over streamed splits, with or without a teacher."""
from __future__ import annotations

import copy
import csv
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.config.recipe import TrainConfig
from edgeship.pipeline.core.contracts.tasks import Task, detached, first_output
from edgeship.pipeline.data.loaders import GlobalBatches, eval_loader, iterate, train_loader
from edgeship.pipeline.data.ragged import targets_to
from edgeship.pipeline.data.splits import Split
from edgeship.pipeline.distillation.guard import per_image_counts
from edgeship.pipeline.tasks.classification import CLASSIFICATION
from edgeship.pipeline.training import devices, distributed, health
from edgeship.pipeline.training.family_defaults import with_family_defaults
from edgeship.pipeline.training.sync_batchnorm import synced_batchnorm


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, task: Task = CLASSIFICATION, batch_size: int | None = None,
             device: torch.device | None = None, workers: int | None = None, num_classes: int | None = None) -> dict:
    """The task's metric over the split, streamed batch by batch (no split-sized output is kept)."""
    model.eval()
    device = device or next(model.parameters(), torch.zeros(())).device
    meter = None
    for xb, yb, _ in iterate(eval_loader(split, batch_size, workers)):
        outputs = detached(model(split.to_inputs(xb.to(device))))
        meter = meter or task.meter(num_classes or first_output(outputs).shape[1])
        meter.update(outputs, targets_to(yb, device))
    return meter.details() if meter is not None else {"accuracy": float("nan")}


def accuracy(model: nn.Module, split: Split, task: Task = CLASSIFICATION, **kwargs) -> float:
    """The task's metric in percent (top-1 accuracy, mIoU, ...)."""
    if len(split) == 0:
        return float("nan")
    details = evaluate(model, split, task, **kwargs)
    return details["miou"] if "miou" in details else details["accuracy"]


def _shift_augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to 1/8 of the image (pad-and-crop); no flips: digits and letters are not symmetric."""
    pad = max(1, batch.shape[-1] // 8)
    padded = F.pad(batch, (pad, pad, pad, pad), mode="replicate")
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[..., dy:dy + batch.shape[-2], dx:dx + batch.shape[-1]]


def _optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)


POLY_POWER = 0.9  # the power of the poly schedule (DeepLab, mmsegmentation)


def _schedule(optimizer: torch.optim.Optimizer, steps: int, warmup: int, kind: str = "cosine"):
    """Cosine or poly decay over the run, after a linear warm-up from a tenth of the learning rate."""
    warmup = min(warmup, steps - 1) if steps > 1 else 0
    span = max(1, steps - warmup)
    decay = (torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: max(0.0, 1.0 - t / span) ** POLY_POWER)
             if kind == "poly" else torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=span))
    if warmup <= 0:
        return decay
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, decay], milestones=[warmup])


class TrainStep(nn.Module):
    """One forward pass to the training loss: the module DistributedDataParallel wraps, so the student and
    the FitNets regressors get their gradients averaged over the ranks."""

    def __init__(self, model: nn.Module, distiller=None, task: Task = CLASSIFICATION):
        super().__init__()
        self.model = model
        self.distiller = distiller
        self.task = task

    def forward(self, xb: torch.Tensor, yb: torch.Tensor, idx: torch.Tensor, epoch: int):
        logits = self.model(xb)
        if self.distiller is None:
            loss = self.task.loss(logits, yb)
            return loss, logits, {"ce": loss.item()}
        loss, parts = self.distiller.loss(logits, yb, idx, xb, epoch)
        if epoch <= self.distiller.hint_epochs:  # FitNets stage 1: the classifier is unused, say so to DDP
            logits = logits.detach()
        return loss, logits, parts


def _train_metric(meter, world: int) -> float:
    """The task's metric on the epoch's training batches (as the model was while it learned from them)."""
    if meter is None:
        return float("nan")
    if world > 1:  # each rank counted its shards: add the counts up
        summed = distributed.all_sum(meter.counts.ravel().tolist())
        meter.counts[...] = np.asarray(summed).reshape(meter.counts.shape)
    return meter.value()


def distributed_wrapper(step: TrainStep, distiller, device: torch.device) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    # FitNets' hint epochs leave the classifier without gradients; only then must DDP look for unused ones.
    hint_epochs = distiller is not None and distiller.hint_epochs > 0
    return DistributedDataParallel(step, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=hint_epochs)


def _training_state(model, optimizer, scheduler, distiller, generator, scaler) -> dict:
    """Everything an epoch changes (weights, optimizer moments, schedule, the method's learned parts, the
    augmentation's random state), copied."""
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "method": distiller.method_module.state_dict(),
                          "generator": generator.get_state(), "scaler": scaler.state_dict() if scaler else None})


def _restore_training_state(state: dict, model, optimizer, scheduler, distiller, generator, scaler) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    distiller.method_module.load_state_dict(state["method"])
    generator.set_state(state["generator"])
    if scaler is not None:
        scaler.load_state_dict(state["scaler"])


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split | None,
    cfg: TrainConfig,
    seed: int,
    distiller=None,
    on_epoch: Callable[[dict], None] | None = None,
    log_csv: Path | None = None,
    task: Task = CLASSIFICATION,
    workers: int | None = None,
    run_on: devices.TrainingDevice | None = None,
    val_counts: Path | None = None,
) -> list[dict]:
    """Train in place with a cosine schedule; `distiller` (edgeship.pipeline.distillation) supplies the loss when a
    teacher teaches. Batches stream from the split through a DataLoader. Returns one metrics dict per epoch.
    `run_on` overrides train.device / train.amp (the mixed-precision path is tested on the CPU this way).
    `val_counts`: an .npz that keeps the task meter's per-image validation counts of every epoch (the scratch
    student's, which adaptive KD compares the distilled student with image by image)."""
    seed_everything(seed)
    cfg = with_family_defaults(cfg, model)  # what the recipe left open (fit resolves it first, to record it)
    generator = torch.Generator().manual_seed(seed)
    run_on = run_on or devices.resolve(cfg.device, cfg.amp)
    model.to(run_on.device, memory_format=run_on.memory_format())
    if distiller is not None:
        distiller.to(run_on.device)
    params = list(model.parameters()) + (list(distiller.method_module.parameters()) if distiller else [])
    optimizer = _optimizer(params, cfg)
    epochs = cfg.epochs + (distiller.hint_epochs if distiller else 0)
    view = train_split.for_training(cfg.augment, cfg.hflip, cfg.trivial_augment)
    sampler = GlobalBatches(len(view), cfg.batch_size, seed, distributed.shard)
    loader = train_loader(view, sampler, workers, pin_memory=run_on.cuda)
    scaler = run_on.scaler()
    total_steps = epochs * len(sampler)
    kind = cfg.schedule if cfg.schedule != "auto" else ("poly" if task.dense else "cosine")
    scheduler = _schedule(optimizer, total_steps, round((cfg.warmup_epochs or 0) * len(sampler)), kind)
    shifts = view.batch_shifts(cfg.augment)
    if distiller is not None:
        distiller.prepare(train_split, cfg.augment, workers=workers, epochs=epochs, steps=total_steps)
    step = TrainStep(model, distiller, task)
    world = distributed.world_size()
    runner = distributed_wrapper(step, distiller, run_on.device) if world > 1 else step
    is_main = distributed.is_main()
    history = []
    # ln K holds for cross-entropy over one label per image, not for masks or a variable number of targets
    constant_loss = (health.constant_output_loss(getattr(train_split, "labels", None)) if task.targets == "labels"
                     else None)
    # One process or several: BatchNorm sees the whole global batch either way (unless the recipe says not to).
    synced = [model, *([distiller.method_module] if distiller else [])] if cfg.sync_batchnorm else []
    # adaptive KD may train an epoch again with new settings: the state it began from is kept
    rewinds = getattr(distiller, "adaptation", None) is not None
    counts_log: list[np.ndarray] | None = ([] if val_counts is not None and task.additive_counts and is_main
                                           and val_split is not None and len(val_split) else None)
    with synced_batchnorm(*synced) as shard:
        epoch = 0
        while epoch < epochs:
            epoch += 1
            began = _training_state(model, optimizer, scheduler, distiller, generator, scaler) if rewinds else None
            model.train()
            if distiller is not None:
                distiller.method_module.train()
            start = time.perf_counter()
            sampler.set_epoch(epoch)
            sums: dict[str, float] = {"loss": 0.0, "ce": 0.0, "kd": 0.0}
            meter = None
            for (xb, yb, idx), global_size in zip(iterate(loader), sampler.global_sizes()):
                xb = view.to_inputs(xb.to(run_on.device, non_blocking=True)).contiguous(
                    memory_format=run_on.memory_format())
                yb = targets_to(yb, run_on.device)
                if shifts:  # every rank draws the same shift for its part of the global batch
                    xb = _shift_augment(xb, generator)
                _, weight = distributed.shard(global_size)
                shard.samples, shard.counts = global_size, weight > 0
                with run_on.autocast():
                    loss, logits, parts = runner(xb, yb, idx, epoch)
                optimizer.zero_grad(set_to_none=True)
                if scaler is None:
                    (loss * weight).backward()
                    optimizer.step()
                else:  # fp16: scale the loss so small gradients do not flush to zero
                    scaler.scale(loss * weight).backward()
                    scaler.step(optimizer)
                    scaler.update()
                scheduler.step()
                if weight == 0:  # a stand-in image that only joined the all-reduce
                    continue
                sums["loss"] += loss.item() * len(idx)
                for name, value in parts.items():
                    sums[name] = sums.get(name, 0.0) + value * len(idx)
                if task.train_metric_each_epoch or epoch == epochs:
                    meter = meter or task.meter(first_output(logits).shape[1])
                    meter.update(detached(logits), yb)
            if world > 1:  # every rank saw its shards: the epoch's figures are their sums
                sums = dict(zip(sorted(sums), distributed.all_sum([sums[k] for k in sorted(sums)])))
            seconds = time.perf_counter() - start
            row = {"epoch": epoch, **{k: v / len(view) for k, v in sums.items()},
                   "train_acc": _train_metric(meter, world),
                   "val_acc": accuracy(model, val_split, task) if val_split is not None and len(val_split)
                   and is_main else float("nan"),
                   "seconds": seconds, "images_per_s": len(view) / max(seconds, 1e-9),
                   "teacher_logits": distiller.teacher_logits_mode if distiller else "none"}
            history.append(row)
            if counts_log is not None:  # a reference for adaptive KD: the epoch's outcomes image by image
                counts_log.append(per_image_counts(model, val_split, task)[0].astype(np.int32))
            if distiller is not None:  # the guard and adaptive KD decide on rank 0's paired comparisons
                evaluated = is_main and val_split is not None
                comparison = (distiller.compare_with_teacher(epoch, row["val_acc"], model, val_split, task)
                              if evaluated else None)
                scratch = distiller.compare_with_scratch(epoch, model, val_split, task) if evaluated else None
                seen = (comparison, row["val_acc"], scratch)  # rank 0's: the others did not evaluate
                if distiller.end_epoch(epoch, *(distributed.broadcast(seen) if world > 1 else seen)) and began:
                    _restore_training_state(began, model, optimizer, scheduler, distiller, generator, scaler)
                    history.pop()  # the adaptation's record keeps its figures
                    epoch -= 1  # the same epoch again, from where it began, with the adapted settings
                    continue
                row["teacher_weight"] = distiller.teacher_weight
            stop = health.stalled(history, constant_loss, cfg.optimizer, cfg.lr)
            if stop:
                row["stopped"] = stop
            if on_epoch:
                on_epoch(row)
            if stop:  # training on would only waste the time: the student is reported unfit with the reason
                break
    if val_counts is not None and counts_log:
        np.savez_compressed(val_counts, counts=np.stack(counts_log))
    if log_csv is not None and history and is_main:
        fields = list(dict.fromkeys(k for row in history for k in row))
        with open(log_csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)
    model.to("cpu", memory_format=torch.contiguous_format)  # export, int8 and bench run on the CPU
    if distiller is not None:
        distiller.to("cpu")
    model.eval()
    return history
