"""Training settings a recipe leaves open, chosen from the model itself rather than from a table of families."""
from __future__ import annotations

from torch import nn

from edgeship.pipeline.config.recipe import TrainConfig

ZOO_MODULES = ("torchvision.", "timm.")
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001}
FINETUNE_LR_SCALE = 0.2  # pruning's fine-tune starts from trained weights: a fifth of the training rate
NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def with_family_defaults(cfg: TrainConfig, model: nn.Module, finetune: bool = False) -> TrainConfig:
    """Settings the recipe left open, chosen for the model: a 1-epoch warm-up for zoo models; Adam for a network
    without normalization layers, SGD otherwise; the optimizer's learning rate."""
    update = {}
    if cfg.warmup_epochs is None:
        # the model itself, or the zoo model inside a wrapper (torchvision's segmentation models in DenseOutput)
        zoo = any(type(m).__module__.startswith(ZOO_MODULES) for m in (model, *model.children()))
        update["warmup_epochs"] = min(1.0, cfg.epochs / 3) if zoo else 0.0
    optimizer = cfg.optimizer
    if optimizer == "auto":
        optimizer = update["optimizer"] = "sgd" if any(isinstance(m, NORMALIZATION) for m in model.modules()) \
            else "adam"
    if cfg.lr is None:
        update["lr"] = DEFAULT_LR[optimizer] * (FINETUNE_LR_SCALE if finetune else 1.0)
    return cfg.model_copy(update=update)
