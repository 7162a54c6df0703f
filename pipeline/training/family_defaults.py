"""Training settings a recipe leaves open, chosen from the model itself rather than from a table of families."""
from __future__ import annotations

import math

from torch import nn

from edgeship.pipeline.config.recipe import TrainConfig

ZOO_MODULES = ("torchvision.", "timm.")
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001}
FINETUNE_LR_SCALE = 0.2  # pruning's fine-tune starts from trained weights: a fifth of the training rate
NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _structural_optimizer(model: nn.Module) -> str:
    return "sgd" if any(isinstance(m, NORMALIZATION) for m in model.modules()) else "adam"


def lr_meant_for(lr: float, finetune: bool = False) -> str:
    """The optimizer whose default rate an explicit lr is nearest to (on a log scale): 0.05 is an SGD rate, 0.001
    an Adam one. Adam at an SGD rate drives a network to a constant output (loss ln K) and never leaves it."""
    scale = FINETUNE_LR_SCALE if finetune else 1.0
    return min(DEFAULT_LR, key=lambda name: abs(math.log(lr / (DEFAULT_LR[name] * scale))))


def with_family_defaults(cfg: TrainConfig, model: nn.Module, finetune: bool = False, dense: bool = False
                         ) -> TrainConfig:
    """Settings the recipe left open, chosen for the model: a 1-epoch warm-up for zoo models and dense tasks
    (small UNets otherwise sit in an early "everything is background" plateau); Adam for a network
    without normalization layers, SGD otherwise, unless an explicit lr was meant for the other one (it is never
    moved to an optimizer it was not meant for: optimizer_mismatch says so instead); the optimizer's rate."""
    update = {}
    if cfg.warmup_epochs is None:
        # the model itself, or the zoo model inside a wrapper (torchvision's segmentation models in DenseOutput)
        zoo = any(type(m).__module__.startswith(ZOO_MODULES) for m in (model, *model.children()))
        update["warmup_epochs"] = min(1.0, cfg.epochs / 3) if zoo or dense else 0.0
    optimizer = cfg.optimizer
    if optimizer == "auto":
        optimizer = update["optimizer"] = (_structural_optimizer(model) if cfg.lr is None
                                           else lr_meant_for(cfg.lr, finetune))
    if cfg.lr is None:
        update["lr"] = DEFAULT_LR[optimizer] * (FINETUNE_LR_SCALE if finetune else 1.0)
    return cfg.model_copy(update=update)


def optimizer_mismatch(cfg: TrainConfig, model: nn.Module, finetune: bool = False) -> str | None:
    """One line, said before training, when `optimizer: auto` kept the optimizer an explicit lr was meant for
    although the network's structure asks for the other one."""
    if cfg.optimizer != "auto" or cfg.lr is None:
        return None
    kept, structural = lr_meant_for(cfg.lr, finetune), _structural_optimizer(model)
    if kept == structural:
        return None
    why = ("it has no normalization layers" if structural == "adam" else "it has normalization layers")
    rate = DEFAULT_LR[structural] * (FINETUNE_LR_SCALE if finetune else 1.0)
    return (f"lr {cfg.lr:g} is a {kept.upper()} rate, so optimizer auto keeps {kept.upper()}; the network would get "
            f"{structural.upper()} ({why}): for that set optimizer: {structural} with lr {rate:g}, or leave lr out")
