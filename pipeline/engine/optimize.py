"""optimize: the whole flow, teacher -> distill -> prune -> export -> int8 -> bench -> report -> ship."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from edgeship.calibration.calibration_set import build_calibration_set
from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.core.contracts.results import Report
from edgeship.pipeline.core.contracts.schemes import scheme_named
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, STUDENT_KD, STUDENT_SCRATCH, TEACHER, export, quantized
from edgeship.pipeline.core.infrastructure.keys import code_key
from edgeship.pipeline.data.splits import InputsByIndex
from edgeship.pipeline.engine.flow import STAGE_CODE, TORCH_PACKAGES, Flow, open_run, plugin_files
from edgeship.pipeline.engine.results import bench_and_report
from edgeship.pipeline.engine.ship_line import after_pruning, choose_start, unfit_teacher
from edgeship.pipeline.stages import budget_search, convert, distill, prune, search, teacher
from edgeship.pipeline.stages.budget_latency import budget_formats, budget_target
from edgeship.pipeline.stages.inputs import StageInputs
from edgeship.pipeline.training import distributed


def _weights(cfg) -> tuple[str | None, ...]:
    """The weight files a model section loads (checkpoint, backbone checkpoint)."""
    return cfg.checkpoint, cfg.backbone_checkpoint


def train_models(flow: Flow) -> dict[str, Artifact]:
    """teacher, the scratch baseline and the distilled student: the stages `edgeship distill` runs."""
    ctx, recipe = flow.ctx, flow.ctx.recipe
    teacher_art = flow.stage(TEACHER, "teacher", recipe.teacher.model_dump(mode="json"),
                             StageInputs(weight_files=_weights(recipe.teacher)), TORCH_PACKAGES,
                             lambda out, key, inputs: teacher.run(None, recipe.teacher, out, ctx, key), trains=True)
    if flow.search is not None:  # the pick replaces the recipe's distill: section for the rest of the run
        picked = search.search(ctx, teacher_art, flow.search, code_key(*STAGE_CODE["distill"]))
        ctx.recipe = recipe = recipe.model_copy(update={"distill": picked})
    stages = {TEACHER.name: teacher_art}
    source_is_teacher = not recipe.distill.born_again
    not_distilled = unfit_teacher(teacher_art, recipe.distill, source_is_teacher and scheme_named(
        recipe.distill.scheme).learns_from_teacher(recipe.distill))
    s_cfg = recipe.student.model_dump(mode="json")
    if recipe.distill.baseline or not_distilled:
        stages[STUDENT_SCRATCH.name] = flow.stage(
            STUDENT_SCRATCH, "distill", {"student": s_cfg, "method": "scratch"},
            StageInputs(weight_files=_weights(recipe.student)), TORCH_PACKAGES,
            lambda out, key, inputs: distill.run(None, recipe.distill, out, ctx, key, STUDENT_SCRATCH), trains=True)
    if not_distilled:
        flow.notices.append(not_distilled)
        ctx.say(f"[yellow]{not_distilled}[/yellow]")
        return stages
    d_cfg = recipe.distill.model_dump(mode="json", exclude={"baseline", "unfit_teacher"})
    # born-again self-distillation starts from the scratch student; online and deep-to-shallow use the teacher's
    # stage only as an anchor (their peers or heads train from scratch)
    source = teacher_art if source_is_teacher else stages[STUDENT_SCRATCH.name]
    # adaptive KD watches a frozen teacher's student against the scratch student's curve
    watches = recipe.distill.adapt and scheme_named(recipe.distill.scheme).watches_scratch
    watched = stages.get(STUDENT_SCRATCH.name) if watches else None
    stages[STUDENT_KD.name] = flow.stage(
        STUDENT_KD, "distill", {"student": s_cfg, **d_cfg},
        StageInputs(parent=source, weight_files=_weights(recipe.student), reference=watched), TORCH_PACKAGES,
        lambda out, key, inputs: distill.run(inputs.parent, recipe.distill, out, ctx, key, STUDENT_KD,
                                             inputs.reference),
        trains=True, plugin_code=plugin_files(METHODS.get(recipe.distill.method)))
    return stages


def train_students(flow: Flow) -> tuple[dict[str, Artifact], Artifact]:
    """Every training stage (train_models, then pruning with its fine-tune): what all ranks of a distributed
    run do together. Returns the torch stages and the student the conversions start from."""
    ctx, recipe = flow.ctx, flow.ctx.recipe
    torch_stages = train_models(flow)
    line = choose_start(torch_stages, recipe.ship.start_from)
    flow.ship_from, student = line.start.stage, line.start
    if line.notice:
        flow.notices.append(line.notice)
        ctx.say(f"[yellow]{line.notice}[/yellow]")
    if recipe.prune.enabled or recipe.budget.enabled:
        teacher_art = torch_stages[TEACHER.name] if line.distilled else None
        pruned = _prune_stage(flow, line.start, teacher_art)
        if pruned is not None:
            torch_stages[PRUNED.name] = pruned
        # under a budget the search decides: its student is the one that meets the budget
        student, refused = after_pruning(pruned, line.start, recipe.ship.max_accuracy_drop, ctx.task.metric_name,
                                         ctx.task.targets != "labels" and not recipe.budget.enabled)
        if refused:
            flow.notices.append(refused)
            ctx.say(f"[yellow]{refused}[/yellow]")
    distributed.leave()
    return torch_stages, student


def _prune_stage(flow: Flow, start: Artifact, teacher_art: Artifact | None) -> Artifact | None:
    """prune.ratio's pruning, or under a budget the search that prunes until the student meets it on the target."""
    ctx, recipe = flow.ctx, flow.ctx.recipe
    inputs = StageInputs(parent=start, teacher=teacher_art)
    if not recipe.budget.enabled:
        return flow.optional_stage(
            PRUNED, "prune", recipe.prune.model_dump(mode="json"), inputs, TORCH_PACKAGES,
            lambda out, key, inputs: prune.run(inputs.parent, recipe.prune, out, ctx, key, inputs.teacher),
            trains=True)
    target, counts = budget_target(recipe)  # the thread counts the search may choose from
    formats = budget_formats(recipe)
    cfg = {"budget": recipe.budget.model_dump(mode="json"), "target": target.model_dump(mode="json"),
           "formats": formats,
           "threads": counts, "finetune": recipe.prune.finetune.model_dump(mode="json"),
           "quantize": recipe.quantize.model_dump(mode="json"), "bench": recipe.bench.model_dump(mode="json"),
           "distill": recipe.distill.model_dump(mode="json")}
    return flow.optional_stage(
        PRUNED, "prune", cfg, inputs, TORCH_PACKAGES + tuple(p for fmt in formats for p in format_named(fmt).packages),
        lambda out, key, inputs: budget_search.run(inputs.parent, out, ctx, key, inputs.teacher), trains=True)


def export_teacher(flow: Flow, teacher_art: Artifact) -> dict[str, Artifact]:
    """The teacher in every format at fp32: "speed-up vs teacher" then compares one runtime with itself."""
    ctx, recipe, out = flow.ctx, flow.ctx.recipe, {}
    for fmt in recipe.export.formats:
        sid = export(fmt, of_teacher=True)
        artifact = flow.conversion(
            sid, "export", {"format": fmt, **recipe.export.model_dump(mode="json")}, StageInputs(parent=teacher_art),
            TORCH_PACKAGES + format_named(fmt).packages,
            lambda o, key, inputs, sid=sid: convert.export(inputs.parent, sid, o, ctx, key),
            plugin_code=plugin_files(format_named(fmt)))
        if artifact is not None:
            out[sid.name] = artifact
    return out


def optimize(recipe: Recipe, run_dir: Path, force: set[str] | None = None, console: Console | None = None,
             publish: bool = True, search: float | None = None) -> Report:
    """The whole recipe. publish=False benches and returns the rows but leaves the run's recipe.yaml, report and
    ship/ as the last full optimize wrote them. `search`: --search's time budget (the pick replaces distill:)."""
    flow = open_run(recipe, run_dir, force, console, publish)
    flow.search = search
    ctx, data, run, console = flow.ctx, flow.ctx.data, flow.ctx.run, flow.ctx.console
    torch_stages, final_student = train_students(flow)
    recipe = ctx.recipe  # with the search's pick

    calibration = None
    if recipe.quantize.enabled:
        c = recipe.quantize.calibration
        calibration = build_calibration_set(InputsByIndex(data.train), data.train.labels, data.key, c.samples,
                                            c.sampling, c.seed)
        calibration.save(run.root / "calibration")
    converted: dict[str, Artifact] = {}
    for fmt in recipe.export.formats:
        packages = TORCH_PACKAGES + format_named(fmt).packages
        fp32 = flow.conversion(export(fmt), "export", {"format": fmt, **recipe.export.model_dump(mode="json")},
                               StageInputs(parent=final_student), packages,
                               lambda out, key, inputs, fmt=fmt: convert.export(inputs.parent, export(fmt), out, ctx,
                                                                                key),
                               plugin_code=plugin_files(format_named(fmt)))
        if fp32 is None:
            if recipe.quantize.enabled:
                flow.failures[quantized(fmt)] = f"not quantized: {fmt} export failed"
            continue
        converted[fp32.stage] = fp32
        if recipe.quantize.enabled:
            int8 = flow.conversion(
                quantized(fmt), "quantize", {"format": fmt, **recipe.quantize.model_dump(mode="json")},
                StageInputs(parent=fp32, torch_model=final_student, calibration=calibration), packages,
                lambda out, key, inputs: convert.quantize(inputs, out, ctx, key),
                plugin_code=plugin_files(format_named(fmt)))
            if int8 is not None:
                converted[int8.stage] = int8

    teacher_art = torch_stages[TEACHER.name]
    teacher_exports = export_teacher(flow, teacher_art) if recipe.export.teacher and teacher_art.format == "torch" \
        else {}
    artifacts = {TEACHER.name: teacher_art, **teacher_exports, **torch_stages, **converted}
    report = bench_and_report(ctx, artifacts, final_student.stage, flow.failures, bool(flow.force & {"bench", "all"}),
                              publish, flow.notices, flow.ship_from)
    return report
