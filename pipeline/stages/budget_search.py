"""budget: the most accurate student within a latency (size, memory) budget on one target, found NetAdapt-style
(Yang et al., ECCV 2018) on the distilled student and measured on the target itself.

Each step tries the layer groups with the most MACs: a copy with `budget.step_share` of one group's channels
removed (Torch-Pruning's groups, L1 magnitude), scored by its validation accuracy after re-estimating BatchNorm
statistics (EagleEye's adaptive BN: a proxy for accuracy after fine-tuning at a fraction of the cost), and timed
whole on the target in the budget's format and precision (one agent run per step). The move that loses the least
accuracy per millisecond saved is applied, then a short KD fine-tune from the teacher. The steps stop when the
budget holds by the upper end of the latency's 95% interval, or at budget.max_search_seconds; the winner gets
prune.finetune's full KD fine-tune and is measured again. Every step is a row of budget-steps.csv.
"""
from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.calibration.calibration_set import build_calibration_set
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import PRUNED
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.splits import InputsByIndex
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.models.torch_artifact import example_input, load_teacher, load_torch_model, torch_artifact
from edgeship.pipeline.models.zoo import count_macs_params
from edgeship.pipeline.stages.budget_latency import (
    Measured,
    budget_format,
    budget_target,
    int8_float_layers,
    measure,
)
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.stages.layer_groups import LayerGroups
from edgeship.pipeline.stages.prune import _finetune_method, pruning_setup
from edgeship.pipeline.training import bn_recalibration
from edgeship.pipeline.training.loop import accuracy, seed_everything

CALIBRATION_SAMPLES = 64  # int8 calibration of each candidate: enough for its latency, which is all it is for


@dataclass
class Step:
    step: int
    move: str
    macs: int
    val_accuracy: float
    measured: Measured
    seconds: float

    def row(self, metric: str) -> dict:
        m = self.measured
        return {"step": self.step, "move": self.move, "macs": self.macs, "val_accuracy": round(self.val_accuracy, 3),
                f"{metric}_ms": round(m.latency_ms, 4), "low_ms": round(m.low_ms, 4), "high_ms": round(m.high_ms, 4),
                "size_kb": round(m.size_kb, 1), "peak_rss_mb": m.peak_rss_mb, "seconds": round(self.seconds, 1)}


def _layer_macs(model, example) -> dict[str, int]:
    """MACs of each convolution / linear layer, by module name (the groups' roots are ranked by them)."""
    from torch import nn

    macs: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: macs.__setitem__(
        name, int(out.numel() * mod.weight[0].numel()))) for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()(example)
    for hook in hooks:
        hook.remove()
    return macs


def _score(model, ctx: Context) -> float:
    """Validation accuracy after re-estimating BatchNorm statistics (the candidate's weights are otherwise as
    pruned)."""
    bn_recalibration.recalibrate(model, ctx.data.train, ctx.recipe.budget.calibration_images,
                                 workers=ctx.recipe.data.workers)
    return accuracy(model, ctx.data.val, ctx.task)


def _pick(scores: list[float], measured: list, now: Measured) -> int | None:
    """The move that loses the least accuracy per millisecond saved (among those that save time)."""
    best, best_cost = None, float("inf")
    for i, (score, m) in enumerate(zip(scores, measured)):
        if not isinstance(m, Measured) or m.latency_ms >= now.latency_ms:
            continue
        cost = (max(0.0, -score) + 1e-3) / (now.latency_ms - m.latency_ms)
        if cost < best_cost:
            best, best_cost = i, cost
    return best


def run(src: Artifact, out: Path, ctx: Context, key: str, teacher_art: Artifact | None) -> Artifact:
    recipe, data, budget = ctx.recipe, ctx.data, ctx.recipe.budget
    seed_everything(recipe.seed)
    started = time.monotonic()
    model = load_torch_model(src)
    example = example_input(data.preprocessing)
    macs_before, params_before = count_macs_params(model, example)
    c = recipe.quantize.calibration
    calibration = build_calibration_set(InputsByIndex(data.train), data.train.labels, data.key,
                                        min(c.samples, CALIBRATION_SAMPLES), c.sampling, c.seed)
    scratch = out / "candidates"
    teacher = load_teacher(teacher_art) if teacher_art is not None else None
    method = _finetune_method(recipe.distill, ctx.task.dense)

    def finetune(label: str, epochs: int, log: str):
        distiller = Distiller(teacher, model, method, example, ctx.task.loss) if teacher is not None else None
        try:
            return fit(model, recipe.prune.finetune.model_copy(update={"epochs": epochs}), ctx, out, label,
                       distiller, log_name=log, finetune=True)
        finally:
            if distiller is not None:
                distiller.close()

    float_layers: list[str] = []

    def timed(models) -> list:
        found = measure(models, ctx, scratch, calibration, float_layers)
        shutil.rmtree(scratch, ignore_errors=True)
        return found

    def confirmed():
        """The model as it will ship: int8 with the layers the quantize stage's budget keeps float, timed."""
        nonlocal float_layers
        float_layers = int8_float_layers(model, ctx, scratch / "int8", calibration)
        return timed([model])[0]

    def time_left() -> bool:
        return time.monotonic() - started < budget.max_search_seconds

    now = confirmed()
    if not isinstance(now, Measured):
        raise EdgeshipError(f"budget.target: the student could not be measured on {budget_target(recipe)[0].name}: "
                            f"{now}")
    steps = [Step(0, "start", macs_before, accuracy(model, data.val, ctx.task), now, 0.0)]
    ctx.say(f"  budget step 0: {now.said(budget.metric)}, val {steps[0].val_accuracy:.2f}%")
    groups = LayerGroups(model, example, pruning_setup(model, recipe.prune, data.num_classes))
    trained = dict(src.metrics)  # no step: the student as it came
    while True:
        stepped = False
        while now.meets(budget) is False and time_left():
            moves = groups.moves(budget.step_share, _layer_macs(model, example), budget.candidates)
            if not moves:  # every group is down to one channel
                break
            twins = [groups.candidate(move) for move in moves]
            scores = [_score(twin, ctx) - steps[-1].val_accuracy for twin in twins]
            found = timed(twins)
            pick = _pick(scores, found, now)
            if pick is None:
                break
            groups.apply(moves[pick])
            finetune(f"budget step {len(steps)}", budget.step_epochs, f"train-budget-step{len(steps)}.csv")
            now, stepped = found[pick], True
            steps.append(Step(len(steps), moves[pick].describe(), count_macs_params(model, example)[0],
                              accuracy(model, data.val, ctx.task), now, time.monotonic() - started))
            ctx.say(f"  budget step {steps[-1].step}: {steps[-1].move}: {now.said(budget.metric)}, "
                    f"val {steps[-1].val_accuracy:.2f}%")
        if not stepped:
            break
        # the winner's full fine-tune, then int8 as the quantize stage makes it: the budget must still hold
        trained = finetune("budget winner", recipe.prune.finetune.epochs, "train-budget-final.csv").to_metrics()
        now = confirmed()
        if not isinstance(now, Measured):
            break
        steps.append(Step(len(steps), "fine-tuned, int8 as shipped", count_macs_params(model, example)[0],
                          trained["val_accuracy"], now, time.monotonic() - started))
        ctx.say(f"  budget confirmed: {now.said(budget.metric)}, val {trained['val_accuracy']:.2f}%")
        if now.meets(budget) or not time_left():
            break
    macs, params = count_macs_params(model, example)
    final = {"val_accuracy": trained["val_accuracy"], "measured": now.__dict__ if isinstance(now, Measured) else now,
             "meets": isinstance(now, Measured) and now.meets(budget)}
    _write_steps(out / "budget-steps.csv", steps, budget.metric)
    cfg, threads = budget_target(recipe)
    metrics = {**trained, "method": "budget search (NetAdapt-style)",
               "macs_before": macs_before, "params_before": params_before, "macs": macs, "params": params,
               "budget": {**budget.model_dump(mode="json"), "target": cfg.name, "threads": threads,
                          "format": budget_format(recipe), "precision": "int8" if recipe.quantize.enabled else "fp32",
                          "steps": [s.row(budget.metric) for s in steps], "final": final,
                          "seconds": round(time.monotonic() - started, 1)}}
    return torch_artifact(out, model, key=key, parent=src.key, sid=PRUNED, spec=src.arch, data=data,
                          extra_metrics=metrics)


def _write_steps(path: Path, steps: list[Step], metric: str) -> None:
    rows = [s.row(metric) for s in steps]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
