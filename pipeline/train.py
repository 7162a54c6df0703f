"""Training and evaluation loops (CPU), with or without a teacher."""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.losses import distillation_loss
from pipeline.recipe import TrainConfig


@dataclass
class Teaching:
    """What the student learns from: a frozen teacher and the KD settings."""
    teacher: nn.Module
    temperature: float
    alpha: float


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def predict_logits(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float((predict_logits(model, x).argmax(1) == y).mean() * 100.0)


def _shift_augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to 1/8 of the image (pad-and-crop); no flips: digits and letters are not symmetric."""
    pad = max(1, batch.shape[-1] // 8)
    padded = F.pad(batch, (pad, pad, pad, pad), mode="replicate")
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[..., dy:dy + batch.shape[-2], dx:dx + batch.shape[-1]]


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)


def train(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: TrainConfig,
    seed: int,
    teaching: Teaching | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    log_csv: Path | None = None,
) -> list[dict]:
    """Train in place with a cosine schedule; returns one metrics dict per epoch."""
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = _optimizer(model, cfg)
    steps_per_epoch = max(1, -(-len(x_train) // cfg.batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, cfg.epochs * steps_per_epoch))
    x_all, y_all = torch.from_numpy(x_train), torch.from_numpy(y_train)
    # Without augmentation the teacher sees the same inputs every epoch: compute its logits once.
    cached_teacher = None
    if teaching is not None and not cfg.augment:
        cached_teacher = torch.from_numpy(predict_logits(teaching.teacher, x_train))
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(x_all), generator=generator)
        sums = {"loss": 0.0, "kd": 0.0, "ce": 0.0}
        correct = 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb, yb = x_all[idx], y_all[idx]
            if cfg.augment:
                xb = _shift_augment(xb, generator)
            logits = model(xb)
            if teaching is None:
                loss = F.cross_entropy(logits, yb)
                parts = {"ce": loss.item(), "kd": 0.0}
            else:
                if cached_teacher is not None:
                    teacher_logits = cached_teacher[idx]
                else:
                    with torch.no_grad():
                        teaching.teacher.eval()
                        teacher_logits = teaching.teacher(xb)
                loss, parts = distillation_loss(logits, teacher_logits, yb, teaching.temperature, teaching.alpha)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            sums["loss"] += loss.item() * len(idx)
            sums["kd"] += parts["kd"] * len(idx)
            sums["ce"] += parts["ce"] * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        seconds = time.perf_counter() - start
        row = {
            "epoch": epoch,
            "loss": sums["loss"] / len(x_all),
            "kd": sums["kd"] / len(x_all),
            "ce": sums["ce"] / len(x_all),
            "train_acc": correct / len(x_all) * 100.0,
            "val_acc": accuracy(model, x_val, y_val) if len(x_val) else float("nan"),
            "seconds": seconds,
            "images_per_s": len(x_all) / max(seconds, 1e-9),
            "teacher_logits": "cached" if cached_teacher is not None else ("live" if teaching else "none"),
        }
        history.append(row)
        if on_epoch:
            on_epoch(row)
    if log_csv is not None and history:
        with open(log_csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    model.eval()
    return history
