"""budget: the most accurate student within a latency (size, memory) budget on one target, found NetAdapt-style (Yang
et al., ECCV 2018) on the distilled student and measured on the target itself.

Each step aims at a latency reduction (NetAdapt's: `budget.step_reduction` of the starting latency, the last step
the budget itself) and tries the layer groups with the most MACs: a copy with as many of one group's channels
removed (Torch-Pruning's groups, L1 magnitude) as the target's layer table says the reduction takes
(stages/budget_step_size.py), or, where no single group reaches it, several groups at once, scored by its
validation accuracy after re-estimating BatchNorm statistics (EagleEye's adaptive BN: a proxy for accuracy after
fine-tuning at a fraction of the cost). Candidates are ranked by the target's per-layer latency tables, and the
`budget.timed` best are timed whole on the target in the budget's format and precision (stages/budget_timing.py).
The move that loses the least accuracy per millisecond saved is applied, then a short KD fine-tune from the
teacher. The steps stop when the budget holds by the upper end of the latency's 95% interval, or at
budget.max_search_seconds; the winner gets prune.finetune's full KD fine-tune and is measured again. Every step is
a row of budget-steps.csv.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from edgeship.calibration.calibration_set import build_calibration_set
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import PRUNED
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.splits import InputsByIndex
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.models.torch_artifact import example_input, load_teacher, load_torch_model, torch_artifact
from edgeship.pipeline.models.zoo import count_macs_params
from edgeship.pipeline.stages.budget_latency import Measured, budget_target
from edgeship.pipeline.stages.budget_moves import joint_candidates, orders_by_root, step_moves
from edgeship.pipeline.stages.budget_refine import refine
from edgeship.pipeline.stages.budget_resume import SearchCheckpoint
from edgeship.pipeline.stages.budget_retrain import retrain
from edgeship.pipeline.stages.budget_retrain import why_not as why_not_retrain
from edgeship.pipeline.stages.budget_step_size import pace, reach_ms, step_goal
from edgeship.pipeline.stages.budget_steps import CONFIRMS, Step, tried_row, write_steps
from edgeship.pipeline.stages.budget_timing import BudgetTiming
from edgeship.pipeline.stages.budget_timing import pick as choose_move
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.fit import fit, health_problems
from edgeship.pipeline.stages.layer_groups import MIN_CHANNELS, LayerGroups
from edgeship.pipeline.stages.prune import _finetune_method, make_pruner, prune_step, pruning_setup
from edgeship.pipeline.training import bn_recalibration
from edgeship.pipeline.training.loop import accuracy, seed_everything

CALIBRATION_SAMPLES = 64  # int8 calibration of each candidate: enough for its latency, which is all it is for


def _scoring_split(ctx: Context):
    """The validation images candidates are scored on: budget.score_images of them, stratified, fixed seed."""
    return ctx.data.val.sample(ctx.recipe.budget.score_images, ctx.recipe.seed)


def _score(model, ctx: Context) -> float:
    """Accuracy on the scoring images after re-estimating BatchNorm statistics (the candidate's weights are
    otherwise as pruned)."""
    bn_recalibration.recalibrate(model, ctx.data.train, ctx.recipe.budget.calibration_images,
                                 workers=ctx.recipe.data.workers)
    return accuracy(model, _scoring_split(ctx), ctx.task)


def _evaluate(twin, ctx: Context, base: float, timing: BudgetTiming) -> tuple[float, Measured | str]:
    """A candidate's accuracy change (adaptive BN) and whole timing, one at a time (a step made smaller)."""
    return _score(twin, ctx) - base, timing.whole([twin])[0]


def _nothing_faster(now: Measured) -> str:
    """Why no step was taken; a latency mostly post-processing is named (channel pruning cannot shrink it)."""
    why = "no candidate timed whole is faster than the model"
    if now.post_ms and now.post_ms >= now.inference_ms:
        why += (f" (its post-processing on the device is {now.post_ms:.3f} of its {now.latency_ms:.3f} ms: "
                f"pruning channels does not shorten it)")
    return why


UNIFORM_RATIOS = (0.25, 0.5, 0.75)
# A step whose candidates, timed whole, save nothing is tried again this many times, each aiming at half the
# reduction: the layer table's estimates run 1-16% off whole files, and a smaller goal lets other groups in.
SMALLER_STEPS = 2


def _uniform_reference(model, example, ctx: Context, timed) -> list[dict]:
    """The same student pruned by one ratio in every layer, scored and timed as the search's candidates are (adaptive
    BN, no fine-tune): the report draws them beside the search's, so the search's gain is visible in kind."""
    import copy

    twins = []
    for ratio in UNIFORM_RATIOS:
        twin = copy.deepcopy(model)
        cfg = ctx.recipe.prune.model_copy(update={"ratio": ratio, "global_pruning": False, "importance": "l1"})
        prune_step(make_pruner(twin, example, cfg, ctx.data.num_classes), twin, cfg)
        twins.append(twin)
    scores = [_score(twin, ctx) for twin in twins]
    return [tried_row(f"uniform {ratio:.2f}", score, m, False) | {"ratio": ratio}
            for ratio, score, m in zip(UNIFORM_RATIOS, scores, timed(twins))]


def run(src: Artifact, out: Path, ctx: Context, key: str, teacher_art: Artifact | None) -> Artifact:
    recipe, data, budget = ctx.recipe, ctx.data, ctx.recipe.budget
    seed_everything(recipe.seed)
    started = time.monotonic()
    model = load_torch_model(src)
    example = example_input(data.preprocessing)
    macs_before, params_before = count_macs_params(model, example)
    c = recipe.quantize.calibration
    calibration, shipped_calibration = (build_calibration_set(InputsByIndex(data.train), data.train.labels, data.key,
                                                              samples, c.sampling, c.seed)
                                        for samples in (min(c.samples, CALIBRATION_SAMPLES), c.samples))
    scratch = out / "candidates"
    teacher = load_teacher(teacher_art) if teacher_art is not None else None
    method = _finetune_method(recipe.distill, ctx.task.dense)

    def distiller_for(student):
        return Distiller(teacher, student, method, example, ctx.task.loss) if teacher is not None else None

    def finetune(label: str, epochs: int, log: str):
        distiller = distiller_for(model)
        try:
            return fit(model, recipe.prune.finetune.model_copy(update={"epochs": epochs}), ctx, out, label,
                       distiller, log_name=log, finetune=True)
        finally:
            if distiller is not None:
                distiller.close()

    timing = BudgetTiming(ctx, scratch, calibration, example, shipped_calibration)

    def done(now: Measured) -> str | None:
        """Why the steps end here, if they do."""
        if now.meets(budget):
            return "the budget holds"
        if time.monotonic() - started >= budget.max_search_seconds:
            return f"budget.max_search_seconds ({budget.max_search_seconds:.0f} s) reached"
        return None

    checkpoint = SearchCheckpoint(out, key)
    resumed = checkpoint.load(src.arch, out)
    if resumed is not None:  # a search killed after a step goes on from there
        model, state = resumed
        steps = [Step.from_json(s) for s in state["steps"]]
        uniform, trained, now = state["uniform"], state["trained"], steps[-1].measured
        timing.restore(state["timing"], now)
        started -= state["seconds"]
        ctx.say(f"  budget search resumed after step {steps[-1].step}: {now.said(budget.metric)}")
    else:
        now = timing.as_shipped(model)
        if not isinstance(now, Measured):
            raise EdgeshipError(f"budget.target: the student could not be measured on "
                                f"{budget_target(recipe)[0].name}: {now}")
        steps = [Step(0, "start", macs_before, accuracy(model, data.val, ctx.task), now, 0.0)]
        ctx.say(f"  budget step 0: {now.said(budget.metric)}, val {steps[0].val_accuracy:.2f}%")
        uniform = _uniform_reference(model, example, ctx, timing.whole) if not now.meets(budget) else []
        trained = dict(src.metrics)  # no step: the student as it came

    def keep() -> None:
        checkpoint.keep(model, {"steps": [s.to_json() for s in steps], "uniform": uniform, "trained": trained,
                                "timing": timing.state(), "seconds": time.monotonic() - started}, out)

    keep()
    fit_at_start, halted = not health_problems(steps[0].val_accuracy, None, ctx), False
    from_scratch: dict | str | None = None  # the winner trained afresh, or why not (None: no winner confirmed)
    groups = LayerGroups(model, example, pruning_setup(model, recipe.prune, data.num_classes))
    # a search resumed right after a step that did not hold the budget owes that step's winner its fine-tune
    stepped = resumed is not None and not steps[-1].confirms and len(steps) > 1
    while True:
        while True:
            if done(now):
                stopped = {"why": done(now)}
                break
            goal = None
            if timing.table is not None:
                sofar = pace(steps, time.monotonic() - started, budget.max_search_seconds)
                goal = step_goal(now, steps[0].measured.latency_ms, budget, sofar)
            base = accuracy(model, _scoring_split(ctx), ctx.task)  # the model as it stands, on the same images
            tried: tuple = ()
            for _ in range(SMALLER_STEPS + 1):
                moves = step_moves(groups, model, example, timing, now, goal, budget)
                if not moves:
                    break
                twins = [groups.candidate(move) for move in moves]
                scores = [_score(twin, ctx) - base for twin in twins]
                reach = None
                if goal is not None and budget.latency_ms is not None and now.high_ms > budget.latency_ms:
                    reach = reach_ms(goal, now.latency_ms)
                    joints = joint_candidates(groups, model, example, timing, now, goal, moves, scores)
                    moves, twins = moves + joints, twins + [groups.candidate(joint) for joint in joints]
                    scores += [_score(twin, ctx) - base for twin in twins[len(scores):]]
                found, estimates = timing.candidates(model, twins, scores, now, reach)
                table_sized = len(moves)  # those after it are the pick made smaller, sized by whole timings
                pick = choose_move(scores, found, now, budget, reach)
                here = now  # where the step starts, in the precision the pick will run in
                switched = pick is not None and isinstance(found[pick], Measured) and timing.fp32_if_faster(
                    model, twins[pick], found[pick])
                if switched:  # the pick runs faster in fp32: the step is sized, and the search goes on, in it
                    here, found[pick] = switched
                if pick is not None and reach is not None and isinstance(found[pick], Measured):  # overshot?
                    aim = step_goal(here, steps[0].measured.latency_ms, budget, replace(sofar, table_gain=1.0))
                    smaller, taken = refine(moves[pick], found[pick], here, aim,
                                            lambda: orders_by_root(groups, model, example),
                                            lambda move: _evaluate(groups.candidate(move), ctx, base, timing))
                    moves, scores = moves + [t.move for t in smaller], scores + [t.score for t in smaller]
                    found, estimates = found + [t.measured for t in smaller], estimates + [None] * len(smaller)
                    pick = pick if taken is None else len(moves) - len(smaller) + taken
                tried += tuple(tried_row(move.describe(), base + score, m, i == pick, estimate, i >= table_sized)
                               for i, (move, score, m, estimate) in enumerate(zip(moves, scores, found, estimates)))
                if pick is not None or goal is None:
                    break
                # the table promised time its candidates did not save whole: a step half as deep, other groups
                goal = now.latency_ms - (now.latency_ms - goal) / 2
            if not moves:
                stopped = {"why": f"every layer group is down to {MIN_CHANNELS} channels"}
                break
            if pick is None:  # what it tried is kept: the report says why the search stopped
                stopped = {"why": _nothing_faster(now), "tried": list(tried)}
                break
            groups.apply(moves[pick])
            # the fine-tune's own validation figure (after its BatchNorm settling): no second pass over val
            val = finetune(f"budget step {len(steps)}", budget.step_epochs,
                           f"train-budget-step{len(steps)}.csv").val_accuracy
            unfit = health_problems(val, None, ctx) if fit_at_start else []
            if unfit:  # a budget met by a student that learned nothing ships nothing: the step before stands
                model = checkpoint.load(src.arch, out)[0]
                stopped = {"why": f"{moves[pick].describe()} left the student unfit to ship ({unfit[0]}); the "
                                  f"search ends at the step before", "tried": list(tried)}
                halted = True
                break
            now, stepped, move = found[pick], True, moves[pick].describe()
            move += f"; {timing.format} fp32 faster from here" if switched else ""
            steps.append(Step(len(steps), move, count_macs_params(model, example)[0],
                              val, now, time.monotonic() - started, tried, goal))
            ctx.say(f"  budget step {steps[-1].step}: {steps[-1].move}: {now.said(budget.metric)}, "
                    f"val {steps[-1].val_accuracy:.2f}%")
            keep()
        if not stepped:
            break
        # the winner's full fine-tune, then int8 as the quantize stage makes it: the budget must still hold
        trained = finetune("budget winner", recipe.prune.finetune.epochs, "train-budget-final.csv").to_metrics()
        # trained afresh only when the search ends here (budget met, time up, halted): a pause where no candidate
        # was faster goes on stepping, and a 5-epoch retraining there cost a rerun half its steps
        ending = halted or done(now) is not None
        if ending:
            from_scratch = why_not_retrain(ctx)  # None: it is trained again
        if ending and from_scratch is None:  # the same architecture afresh (Liu et al. 2019): the better ships
            fresh = retrain(model, distiller_for, ctx, out)
            kept = fresh.summary.val_accuracy > trained["val_accuracy"] and not fresh.summary.health
            from_scratch = {"val_accuracy": round(fresh.summary.val_accuracy, 3),
                            "fine_tuned_val_accuracy": round(trained["val_accuracy"], 3),
                            "kept": "from scratch" if kept else "fine-tuned"}
            ctx.say(f"  budget winner from scratch: val {fresh.summary.val_accuracy:.2f}% against "
                    f"{trained['val_accuracy']:.2f}% fine-tuned; {from_scratch['kept']} kept")
            if kept:
                model, trained = fresh.model, fresh.summary.to_metrics()
                groups = LayerGroups(model, example, pruning_setup(model, recipe.prune, data.num_classes))
        now = timing.as_shipped(model, every_format=True)  # pruning can change which format is fastest
        if not isinstance(now, Measured):
            stopped = {"why": f"the fine-tuned student could not be measured: {now}"}
            break
        scratch_kept = isinstance(from_scratch, dict) and from_scratch["kept"] == "from scratch"
        steps.append(Step(len(steps), f"{CONFIRMS}{', trained from scratch' if scratch_kept else ''}, "
                                      f"{timing.format} {timing.precision} as shipped",
                          count_macs_params(model, example)[0], trained["val_accuracy"], now,
                          time.monotonic() - started))
        ctx.say(f"  budget confirmed: {now.said(budget.metric)}, val {trained['val_accuracy']:.2f}%")
        keep()
        stepped = False
        if halted:
            break
        if done(now):
            stopped = {"why": done(now)}
            break
    macs, params = count_macs_params(model, example)
    final = {"val_accuracy": trained["val_accuracy"], "measured": now.__dict__ if isinstance(now, Measured) else now,
             "meets": isinstance(now, Measured) and now.meets(budget)}
    write_steps(out / "budget-steps.csv", steps, budget.metric)
    cfg, counts = budget_target(recipe)
    metrics = {**trained, "method": "budget search (NetAdapt-style)",
               "macs_before": macs_before, "params_before": params_before, "macs": macs, "params": params,
               "budget": {**budget.model_dump(mode="json"), "target": cfg.name, "threads": timing.threads,
                          "threads_tried": counts,
                          "format": timing.format, "precision": timing.precision,
                          "at_start": timing.at_start, "at_confirm": timing.at_confirm,
                          "from_scratch": from_scratch,
                          "steps": [s.row(budget.metric) | {"tried": list(s.tried)} for s in steps],
                          "uniform": uniform, "final": final, "stopped": stopped, "layer_table": timing.table_said(),
                          "seconds": round(time.monotonic() - started, 1),
                          "resumed_after_step": None if resumed is None else resumed[1]["steps"][-1]["step"]}}
    artifact = torch_artifact(out, model, key=key, parent=src.key, sid=PRUNED, spec=src.arch, data=data,
                              extra_metrics=metrics)
    checkpoint.clear()
    return artifact

