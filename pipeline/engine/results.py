"""Bench a run's artifacts on the recipe's targets and make the typed report (rows, ship choice, trade-offs)."""
from __future__ import annotations

from edgeship.pipeline.bench.paired import compare_pairs, decision_pairs
from edgeship.pipeline.bench.run import bench_all, bench_columns
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.data_sources import BOXES
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.core.contracts.results import Report, ShipChoice
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, STUDENT_KD, TEACHER, StageId
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.data.transforms import preprocess
from edgeship.pipeline.reporting.masks import EXAMPLES, boxes_svg, masks_svg, predicted_boxes, predicted_masks
from edgeship.pipeline.reporting.report import add_speedups, kd_verdict, make_row, model_name, write_report
from edgeship.pipeline.reporting.ship import Budget, choose, write_ship
from edgeship.pipeline.reporting.tradeoffs import int8_vs_fp32, pruning_effect
from edgeship.pipeline.stages.budget_latency import budget_target
from edgeship.pipeline.stages.context import Context


def _beta_setting(distill) -> str | float:
    """How the method's weight was chosen: auto only where the method balances itself under auto."""
    auto = distill.beta == "auto"
    return "paper" if auto and not METHODS.get(distill.method).auto_balance else distill.beta


def unfit_stages(artifacts: dict[str, Artifact], final_stage: str) -> dict[str, list[str]]:
    """Torch stages that are not fit to ship (training/health.py), and the conversions of an unfit model with it:
    the final student's for the student line, the teacher's for the teacher's own exports."""
    unfit = {name: a.metrics["health"] for name, a in artifacts.items()
             if a.format == "torch" and a.metrics.get("health")}
    for source, of_teacher in ((final_stage, False), (TEACHER.name, True)):
        if source in unfit:
            unfit.update({name: unfit[source] for name, a in artifacts.items()
                          if a.id.converted and a.id.of_teacher == of_teacher})
    return unfit


def _examples(ctx: Context, artifacts: dict[str, Artifact], ship_choices: dict[str, ShipChoice], name_of,
              boxes: bool) -> str:
    """Validation images beside their ground truth, the teacher's predictions and each shipped file's: masks, or
    boxes for a task whose targets are boxes."""
    images, truth = ctx.data.val.sample(EXAMPLES, ctx.recipe.seed).arrays()
    inputs = preprocess(images, ctx.data.preprocessing)
    columns = {}
    shown = [TEACHER.name] + [c.stage for c in ship_choices.values() if c.stage]
    for stage in dict.fromkeys(shown):
        if stage in artifacts:
            a = artifacts[stage]
            label = name_of(a.id) if a.format == "torch" else f"{a.format} {a.precision}"
            columns[label] = predicted_boxes(a, inputs) if boxes else predicted_masks(a, inputs)
    if boxes:
        return boxes_svg(images, columns, [truth[i] for i in range(len(images))], ctx.data.labels)
    return masks_svg(images, {"ground truth": truth, **columns}, ctx.data.num_classes)


def ship_budget(recipe) -> Budget | None:
    """The recipe's budget as ship judges rows: on the bench columns of its target at the thread counts it allows."""
    budget = recipe.budget
    if not budget.enabled:
        return None
    cfg, counts = budget_target(recipe)
    columns = tuple(c.name for c in bench_columns(recipe) if c.cfg.name == cfg.name and c.threads in counts)
    return Budget(columns, budget.metric, budget.latency_ms, budget.size_kb, budget.peak_rss_mb)


def bench_and_report(ctx: Context, artifacts: dict[str, Artifact], final_stage: str,
                     failures: dict[StageId, str], force_bench: bool, publish: bool, notices: list[str] = (),
                     ship_from: str = STUDENT_KD.name) -> Report:
    """`failures`: stage name -> why a conversion has no artifact (a failed row on every target). `notices`: what
    the report says first. `ship_from`: the trained student that pruning and the conversions start from."""
    recipe, run = ctx.recipe, ctx.run
    ctx.console.print("[bold]bench[/bold]")
    results = bench_all(list(artifacts.values()), ctx, force=bool(force_bench))
    task = task_named(recipe.task)
    final_name = model_name(artifacts[final_stage].id, recipe.distill.method, ship_from)

    def name_of(sid: StageId) -> str:
        return model_name(sid, recipe.distill.method, ship_from, final_name)

    rows = []
    for column in bench_columns(recipe):
        for name, artifact in artifacts.items():
            if column.cfg.measures(artifact.format):
                rows.append(make_row(artifact, artifact.id, name_of(artifact.id), column.name,
                                     results.get((name, column.name)), per_image_metric=task.per_image_metric))
        for sid, error in failures.items():
            rows.append(make_row(None, sid, name_of(sid), column.name, None, error,
                                 per_image_metric=task.per_image_metric))
    add_speedups(rows)
    ctx.console.print("[bold]paired timing[/bold] (int8 against fp32, pruned against unpruned)")
    speed = compare_pairs(artifacts, decision_pairs(artifacts, ship_from), ctx, results, force=bool(force_bench))
    unfit = unfit_stages(artifacts, final_stage)
    ship_choices = choose(rows, final_stage, recipe.export.formats, recipe.ship.max_accuracy_drop, unfit, speed,
                          ship_budget(recipe))
    notices = list(notices) + [f"{name_of(artifacts[stage].id)} is not fit to ship: {'; '.join(why)}"
                               for stage, why in unfit.items() if artifacts[stage].format == "torch"]
    kd = artifacts.get(STUDENT_KD.name)
    searched = artifacts.get(PRUNED.name)
    distilled = {"method": recipe.distill.method,
                 "teacher_outputs": kd.metrics.get("teacher_logits") if kd else None,
                 "beta": kd.metrics.get("beta") if kd else None, "beta_setting": _beta_setting(recipe.distill),
                 "scheme": kd.metrics.get("scheme") if kd else None,
                 "weak_teacher": kd.metrics.get("weak_teacher") if kd else None, "search": ctx.search,
                 "adapted": kd.metrics.get("adapted") if kd else None, "adapt": recipe.distill.adapt}
    report = Report(
        recipe=recipe.name, results=rows, kd_verdict=kd_verdict(rows, task.metric_name, distilled), ship=ship_choices,
        metric=task.metric, metric_name=task.metric_name,
        stages=[{"name": r.name, "type": r.type, "key": r.key, "status": r.status, "seconds": r.seconds,
                 "error": r.error} for r in run.records],
        reference_stage=final_stage, int8_vs_fp32=int8_vs_fp32(rows, speed),
        pruning=pruning_effect(rows, ship_from, speed), speed=[c.to_dict() for c in speed],
        notices=notices, ship_from=ship_from, unfit=unfit,
        budget=searched.metrics.get("budget") if searched is not None and recipe.budget.enabled else None,
        distillation=distilled)
    if task.dense or task.targets == BOXES:
        report.figures["examples"] = _examples(ctx, artifacts, ship_choices, name_of, boxes=task.targets == BOXES)
    if publish:
        write_report(run.root, report)
        write_ship(run.root, ship_choices, artifacts)
    return report
