"""prune: structured channel pruning with Torch-Pruning (DepGraph, L1 magnitude), then a short KD fine-tune."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline.artifact import Artifact
from pipeline.context import Context
from pipeline.models import count_macs_params
from pipeline.recipe import PruneConfig
from pipeline.stages.training import fit
from pipeline.torch_artifact import example_input, load_torch_model, torch_artifact
from pipeline.distillation.distiller import Distiller
from pipeline.train import seed_everything


def classifier_layers(model: nn.Module, num_classes: int) -> list[nn.Module]:
    """Layers whose outputs are the classes: pruning them would change what the model predicts."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
            and getattr(m, "out_features", getattr(m, "out_channels", None)) == num_classes]


def prune_channels(model: nn.Module, example: torch.Tensor, ratio: float, num_classes: int) -> nn.Module:
    import torch_pruning as tp

    pruner = tp.pruner.MetaPruner(model.eval(), example, importance=tp.importance.MagnitudeImportance(p=1),
                                  pruning_ratio=ratio, ignored_layers=classifier_layers(model, num_classes))
    pruner.step()
    return model


def run(src: Artifact, cfg: PruneConfig, out: Path, ctx: Context, key: str) -> Artifact:
    seed_everything(ctx.recipe.seed)
    model = load_torch_model(src)
    example = example_input(ctx.data.preprocessing)
    macs_before, params_before = count_macs_params(model, example)
    prune_channels(model, example, cfg.ratio, ctx.data.num_classes)
    distiller = None
    if ctx.teacher is not None:
        # The fine-tune recovers accuracy with the plain logit KD loss: channel indices changed, so hint layers
        # chosen for the unpruned student may no longer fit.
        kd_only = ctx.recipe.distill.model_copy(update={"method": "kd", "layers": [], "beta": None})
        distiller = Distiller(load_torch_model(ctx.teacher), model, kd_only, example)
    try:
        metrics = fit(model, cfg.finetune, ctx, out, "pruned", distiller)
    finally:
        if distiller is not None:
            distiller.close()
    metrics.update(method="l1-magnitude", ratio=cfg.ratio, macs_before=macs_before, params_before=params_before)
    return torch_artifact(out, model, key=key, parent=src.key, stage="pruned", spec=src.arch, data=ctx.data,
                          extra_metrics=metrics)
