"""prune: structured channel pruning with Torch-Pruning (DepGraph), optionally in steps, each followed by a
KD fine-tune from the teacher."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeship.pipeline.config.recipe import PruneConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import PRUNED
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.ragged import as_tensors
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.models.channel_shuffle import shuffle_barriers
from edgeship.pipeline.models.heads import classifier_layers
from edgeship.pipeline.models.torch_artifact import example_input, load_teacher, load_torch_model, torch_artifact
from edgeship.pipeline.models.zoo import count_macs_params
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.training import bn_recalibration
from edgeship.pipeline.training.loop import seed_everything


def _importance(name: str):
    import torch_pruning as tp

    return {"l1": lambda: tp.importance.MagnitudeImportance(p=1), "l2": lambda: tp.importance.MagnitudeImportance(p=2),
            "bn_scale": tp.importance.BNScaleImportance, "taylor": tp.importance.TaylorImportance}[name]()


DENSE_STEPS = 3  # prune.steps auto for dense tasks; 1 for per-image ones


def steps_of(cfg: PruneConfig, dense: bool) -> int:
    return cfg.steps if cfg.steps != "auto" else (DENSE_STEPS if dense else 1)


def aligned_kept(kept: int, round_to: int) -> int:
    """The channels a layer keeps: `kept` rounded down to a multiple of `round_to` where at least that many
    remain (fewer stay as they are: rounding would empty the layer)."""
    return kept - kept % round_to if kept >= round_to else kept


@dataclass(frozen=True)
class PruningSetup:
    """What Torch-Pruning must be told about a model: layers whose outputs stay whole, parameters outside any
    layer, pruners for layers it does not know, and the multiple kept channels are rounded to."""
    ignored: list
    unwrapped: list
    customized: dict
    round_to: int = 1


def pruning_setup(model: nn.Module, cfg: PruneConfig, num_classes: int) -> PruningSetup:
    modules = dict(model.named_modules())
    missing = [name for name in cfg.ignore if name not in modules]
    if missing:
        raise EdgeshipError(f"prune.ignore: no module named {missing[0]!r}")
    barriers, whole = shuffle_barriers(model)  # ShuffleNetV2's channel shuffles stay whole
    ignored = classifier_layers(model, num_classes) + [modules[name] for name in cfg.ignore] + whole
    # parameters outside any layer (a detector's per-level box scales) that the model names with the dimension
    # Torch-Pruning may prune: said, so it does not guess (and warn)
    unwrapped = getattr(model, "pruning_unwrapped", lambda: [])()
    return PruningSetup(ignored, unwrapped, barriers, cfg.round_to)


def _rounding_pruner():
    """Torch-Pruning's MetaPruner with its round_to kept from emptying a layer: its own rounding takes a layer
    that keeps fewer channels than round_to down to none."""
    import torch_pruning as tp

    class RoundingPruner(tp.pruner.MetaPruner):
        def _round_to(self, n_pruned, current_channels, round_to):
            return current_channels - aligned_kept(current_channels - n_pruned, round_to)

    return RoundingPruner


def make_pruner(model: nn.Module, example: torch.Tensor, cfg: PruneConfig, num_classes: int, steps: int = 1):
    setup = pruning_setup(model, cfg, num_classes)
    pruner = _rounding_pruner()
    return pruner(model.eval(), example, importance=_importance(cfg.importance), pruning_ratio=cfg.ratio,
                  iterative_steps=steps, round_to=setup.round_to if setup.round_to > 1 else None,
                  global_pruning=cfg.global_pruning, ignored_layers=setup.ignored,
                  unwrapped_parameters=setup.unwrapped or None, customized_pruners=setup.customized or None)


def prune_step(pruner, model: nn.Module, cfg: PruneConfig, x: torch.Tensor | None = None,
               y: torch.Tensor | None = None, loss=F.cross_entropy) -> None:
    """One pruning step; Taylor importance needs the gradient of the (task's) loss on a batch first. That
    gradient is taken in float64: float32 sums change with the thread count (torchrun gives each rank one), and
    on a small student that flipped near-tied channels: 2 processes pruned other channels than 1 and the pruned
    stage ended 3 points lower."""
    if cfg.importance != "taylor":
        pruner.step()
        return
    dtype = next(model.parameters()).dtype
    model.double().zero_grad()
    loss(model(x.double()), _float64(y)).backward()
    pruner.step()
    model.to(dtype).zero_grad()


def _float64(targets):
    """Targets (data/ragged.py: one tensor, or a list of them) with floating ones (a detector's boxes) in
    float64, as the model's outputs are."""
    if isinstance(targets, (list, tuple)):
        return [_float64(t) for t in targets]
    return targets.double() if targets.is_floating_point() else targets


def prune_channels(model: nn.Module, example: torch.Tensor, ratio: float, num_classes: int) -> nn.Module:
    """One-shot L1 pruning to `ratio` (what tests and quick experiments need)."""
    cfg = PruneConfig(ratio=ratio)
    prune_step(make_pruner(model, example, cfg, num_classes), model, cfg)
    return model


def _finetune_method(distill, dense: bool):
    """The fine-tune's distillation after pruning. Channel indices changed, so hint layers chosen for the unpruned
    student may no longer fit: classification uses the plain logit KD; a dense task keeps the recipe's method
    (CWD, pixel-wise KD) where it needs no layer pairs."""
    if dense and not distill.layers:
        return distill
    return distill.model_copy(update={"method": "kd", "layers": [], "beta": "paper"})


def run(src: Artifact, cfg: PruneConfig, out: Path, ctx: Context, key: str, teacher_art: Artifact | None) -> Artifact:
    """Prune `src`; each step is fine-tuned with KD from `teacher_art` (None: without a teacher)."""
    seed_everything(ctx.recipe.seed)
    model = load_torch_model(src)
    example = example_input(ctx.data.preprocessing)
    macs_before, params_before = count_macs_params(model, example)
    task, data = ctx.task, ctx.data
    total = steps_of(cfg, task.dense)
    pruner = make_pruner(model, example, cfg, data.num_classes, total)
    first = data.train.subset(np.arange(min(256, len(data.train))))
    inputs, targets = first.inputs_and_targets()
    batch = (torch.from_numpy(inputs), as_tensors(targets))
    teacher = load_teacher(teacher_art) if teacher_art is not None else None
    finetune_method = _finetune_method(ctx.recipe.distill, task.dense)
    steps = []
    for step in range(1, total + 1):
        try:
            prune_step(pruner, model, cfg, *batch, loss=task.loss)
        except EdgeshipError:
            raise
        except Exception as err:  # Torch-Pruning's dependency graph fails on some families (channel shuffle)
            raise RuntimeError(f"Torch-Pruning cannot prune {src.arch.get('arch')}: {type(err).__name__}: "
                               f"{' '.join(str(err).split())}") from err
        if task.dense:  # EagleEye's adaptive BN: statistics of the pruned network before it fine-tunes
            bn_recalibration.recalibrate(model, data.train, cfg.finetune.recalibrate_bn,
                                         workers=ctx.recipe.data.workers)
        distiller = (Distiller(teacher, model, finetune_method, example, task.loss,
                               teacher_accuracy=teacher_art.metrics.get("val_accuracy"))
                     if teacher is not None else None)
        try:
            summary = fit(model, cfg.finetune, ctx, out, f"pruned step {step}/{total}", distiller,
                          log_name=f"train-step{step}.csv", finetune=True)
        finally:
            if distiller is not None:
                distiller.close()
        macs, params = count_macs_params(model, example)
        steps.append({"step": step, "macs": macs, "params": params, "val_accuracy": summary.val_accuracy})
    metrics = {**summary.to_metrics(), "method": f"{cfg.importance}{' global' if cfg.global_pruning else ''}",
               "ratio": cfg.ratio, "finetune_distillation": finetune_method.method if teacher is not None else None,
               "macs_before": macs_before, "params_before": params_before, "steps": steps}
    return torch_artifact(out, model, key=key, parent=src.key, sid=PRUNED, spec=src.arch, data=ctx.data,
                          extra_metrics=metrics)
