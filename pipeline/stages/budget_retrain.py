"""The budget search's winner trained again from a fresh initialization: the architecture the search found, with
the student's own training and the teacher's KD. Liu et al. ("Rethinking the Value of Network Pruning", ICLR
2019) found structured-pruned architectures trained from scratch as accurate as, or more than, their fine-tuned
weights; on small data a narrow student trained from scratch beat the pruned one by 1.5 points (Fashion-MNIST,
64 px, docs/budget.md). Both are scored on the validation split and the better ships; the latency is the
architecture's, so the choice is made before the winner is timed."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.training.loop import seed_everything
from edgeship.pipeline.training.summary import TrainingSummary


@dataclass(frozen=True)
class Retrained:
    model: nn.Module
    summary: TrainingSummary


def reinitialized(model: nn.Module, seed: int) -> nn.Module:
    """A copy of `model` (its pruned shapes) with every layer's parameters and statistics drawn afresh."""
    twin = copy.deepcopy(model)
    seed_everything(seed)
    for module in twin.modules():
        if hasattr(module, "reset_parameters") and callable(module.reset_parameters):
            module.reset_parameters()
    return twin


def why_not(ctx: Context) -> str | None:
    """Why the winner is not trained again, if it is not: turned off, or pretrained weights a fresh initialization
    would throw away."""
    student = ctx.recipe.student
    if not ctx.recipe.budget.retrain:
        return "budget.retrain is off"
    if student.checkpoint or student.backbone_checkpoint:
        return "the student starts from pretrained weights"
    return None


def retrain(model: nn.Module, make_distiller, ctx: Context, out: Path) -> Retrained:
    """`model`'s architecture trained from scratch with the student's training settings, for as many epochs as the
    fine-tuned weights had: the student's and the winner's fine-tune's (Liu et al.'s Scratch-B: retrained for the
    student's 5 epochs alone, a 64 px MobileNetV2 winner reached 74.35% test where the width-multiplier baseline,
    trained 5 + 2, reached 76.95%);
    `make_distiller(model)` -> the fine-tune's distiller for it (None: labels only), closed after."""
    recipe = ctx.recipe
    settings = recipe.student.train.model_copy(
        update={"epochs": recipe.student.train.epochs + recipe.prune.finetune.epochs})
    twin = reinitialized(model, recipe.seed)
    distiller = make_distiller(twin)
    try:
        summary = fit(twin, settings, ctx, out, "budget winner from scratch", distiller,
                      log_name="train-budget-scratch.csv")
    finally:
        if distiller is not None:
            distiller.close()
    return Retrained(twin, summary)
