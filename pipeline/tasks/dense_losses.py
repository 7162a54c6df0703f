"""Losses for dense prediction where most pixels are background (mmsegmentation's class weights and OHEM,
segmentation_models_pytorch's Dice and focal): the recipe's `loss.kind` picks one (255 = ignore everywhere)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeship.targets.agent import IGNORE_INDEX

# loss.kind auto for dense tasks: class-weighted CE with softened weights (LossConfig.class_weight_power 0.5).
# Photo scenes, 64 px (docs/segmentation.md): full median-frequency weights over-predict the items (a w16 teacher
# put 33.5% of the pixels on items that hold 17.3%: 31.5% mIoU), plain CE is slow to tell the items apart (10.6
# after 6 epochs; 41.3 after 40 on digits), square-rooted weights reached 62.5 by epoch 30 on the same digits scenes
# and, over 3 seeds on Fashion-MNIST items, scratch students 26.59 ± 0.70 against plain CE's 23.04 ± 0.28.
DEFAULT = "weighted-ce"
MAX_WEIGHT = 10.0  # a class seen on few pixels would otherwise get a weight that swamps the rest


def class_weights(masks, num_classes: int, power: float = 1.0) -> list[float]:
    """Median-frequency balancing (Eigen & Fergus 2015) over the training masks: weight_c = (median(f) / f_c)
    ** power, clipped to MAX_WEIGHT; a class never seen gets the largest weight."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for mask in masks:
        labelled = mask[mask != IGNORE_INDEX].astype(np.int64)
        counts += np.bincount(labelled[labelled < num_classes], minlength=num_classes)
    freq = counts / max(1, counts.sum())
    seen = freq > 0
    median = float(np.median(freq[seen])) if seen.any() else 1.0
    return [float(min(MAX_WEIGHT, (median / f) ** power)) if f > 0 else MAX_WEIGHT for f in freq]


def cross_entropy(outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, masks.long(), ignore_index=IGNORE_INDEX)


def weighted_cross_entropy(weights: list[float]):
    table = torch.tensor(weights, dtype=torch.float32)

    def loss(outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, masks.long(), weight=table.to(outputs.device, outputs.dtype),
                               ignore_index=IGNORE_INDEX)
    return loss


def ohem_cross_entropy(threshold: float, min_kept: float):
    """Cross-entropy over the pixels whose true-class probability is below `threshold`, and at least the
    `min_kept` share of labelled pixels (the hardest), as mmsegmentation's OHEMPixelSampler."""
    def loss(outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        masks = masks.long()
        per_pixel = F.cross_entropy(outputs, masks, ignore_index=IGNORE_INDEX, reduction="none").flatten()
        valid = (masks != IGNORE_INDEX).flatten()
        if not valid.any():
            return per_pixel.sum() * 0.0
        hard = per_pixel[valid]
        keep = max(1, int(min_kept * hard.numel()))
        above = hard > -np.log(threshold)  # probability below the threshold
        if int(above.sum()) >= keep:
            return hard[above].mean()
        return hard.topk(keep).values.mean()
    return loss


def dice_cross_entropy(outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """CE plus soft Dice (1 - mean Dice over the classes present in the batch), labelled pixels only."""
    masks = masks.long()
    valid = (masks != IGNORE_INDEX).unsqueeze(1)
    probs = outputs.float().softmax(1) * valid
    hot = F.one_hot(masks.clamp(0, outputs.shape[1] - 1), outputs.shape[1]).permute(0, 3, 1, 2) * valid
    inter, total = (probs * hot).sum((0, 2, 3)), (probs + hot).sum((0, 2, 3))
    present = hot.sum((0, 2, 3)) > 0
    dice = (2 * inter + 1.0) / (total + 1.0)
    soft_dice = 1.0 - dice[present].mean() if present.any() else outputs.sum() * 0.0
    return cross_entropy(outputs, masks) + soft_dice


def focal(gamma: float):
    """Focal loss (Lin et al. 2017): CE scaled by (1 - p_true)^gamma, mean over labelled pixels."""
    def loss(outputs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        masks = masks.long()
        per_pixel = F.cross_entropy(outputs, masks, ignore_index=IGNORE_INDEX, reduction="none")
        valid = masks != IGNORE_INDEX
        p_true = torch.exp(-per_pixel)
        return ((1 - p_true) ** gamma * per_pixel)[valid].mean() if valid.any() else per_pixel.sum() * 0.0
    return loss


def make_loss(cfg, train_split, num_classes: int):
    """(loss, record): the recipe's supervised term for a dense task and what the report records of it."""
    kind = DEFAULT if cfg.kind == "auto" else cfg.kind
    record = {"kind": kind}
    if kind == "weighted-ce":
        weights = class_weights(train_split.native_masks(), num_classes, cfg.class_weight_power)
        record.update(power=cfg.class_weight_power, class_weights=[round(w, 4) for w in weights])
        return weighted_cross_entropy(record["class_weights"]), record
    if kind == "ohem":
        record.update(threshold=cfg.ohem_threshold, min_kept=cfg.ohem_min_kept)
        return ohem_cross_entropy(cfg.ohem_threshold, cfg.ohem_min_kept), record
    if kind == "dice-ce":
        return dice_cross_entropy, record
    if kind == "focal":
        record["gamma"] = cfg.focal_gamma
        return focal(cfg.focal_gamma), record
    return cross_entropy, record
