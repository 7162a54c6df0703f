"""optimize: the whole flow, teacher -> distill -> prune -> export -> int8 -> bench -> report -> ship."""
from __future__ import annotations

import inspect
from pathlib import Path

from rich.console import Console

from calibration.calibration_set import build_calibration_set
from pipeline.bench.run import bench_all, bench_columns
from pipeline.config.recipe import Recipe, recipe_to_yaml
from pipeline.core.artifact import Artifact
from pipeline.core.atomic import write_atomic
from pipeline.core.errors import EdgeshipError, one_line
from pipeline.core.formats import format_named
from pipeline.core.keys import PROJECT_ROOT, code_key, content_key, file_sha256, tool_versions
from pipeline.core.plugins import FORMATS, METHODS
from pipeline.core.runfolder import RunFolder
from pipeline.data.datasets import load_dataset
from pipeline.reporting.report import add_speedups, kd_verdict, make_row, model_names, write_report
from pipeline.reporting.ship import choose, write_ship
from pipeline.reporting.tradeoffs import int8_vs_fp32, pruning_effect
from pipeline.stages import convert, distill, prune, teacher
from pipeline.stages.context import Context
from pipeline.training import distributed

TORCH_PACKAGES = ("torch", "torchvision", "torch-pruning", "numpy")
# The code that makes each stage type: its source goes into the stage key (plus a plug-in's own file).
TRAINING_CODE = ("pipeline/stages", "pipeline/training", "pipeline/distillation", "pipeline/models", "pipeline/data",
                 "pipeline/tasks")
STAGE_CODE = {"teacher": TRAINING_CODE, "distill": TRAINING_CODE, "prune": TRAINING_CODE,
              "export": ("pipeline/stages/convert.py", "pipeline/formats", "targets/agent.py"),
              "quantize": ("pipeline/stages/convert.py", "pipeline/formats", "targets/agent.py", "calibration")}


def plugin_files(plugin) -> tuple[str, ...]:
    """The source files of a plug-in's parts that live outside edgeship's own folders (a user's plug-in)."""
    parts = [plugin, *(getattr(plugin, part) for part in ("export", "quantize") if hasattr(plugin, part))]
    files = {inspect.getsourcefile(p) for p in parts if inspect.isfunction(p) or inspect.isclass(p)}
    return tuple(sorted(f for f in files if f and not f.startswith(str(PROJECT_ROOT / "pipeline"))))


class Flow:
    """Runs stages through the run folder, remembering which ones were forced so their descendants rerun."""

    def __init__(self, ctx: Context, force: set[str]):
        known = {"all", "bench", "teacher", "student-scratch", "student-kd", "pruned"} | {
            f"{fmt}-{precision}" for fmt in FORMATS.names() for precision in ("fp32", "int8")}
        unknown = sorted(set(force) - known)
        if unknown:
            raise EdgeshipError(f"--force {unknown[0]}: unknown stage (one of {', '.join(sorted(known))})")
        self.ctx = ctx
        self.force = set(force)
        self.forced_keys: set[str] = set()
        self.failures: dict[str, str] = {}

    def stage(self, name: str, stage_type: str, cfg, parent: Artifact | None, packages, build,
              extra_key=(), trains: bool = False, plugin_code=()) -> Artifact:
        """`trains`: a training stage, which every rank of a distributed run runs together. `plugin_code`: the
        files of plug-ins it runs (a format's, a method's), whose source goes into the key too."""
        versions = tool_versions(*packages)
        code = code_key(*STAGE_CODE[stage_type], *plugin_code)
        key = content_key(stage_type, cfg, parent.key if parent else None, list(extra_key), versions,
                          self.ctx.recipe.seed, code)
        forced = "all" in self.force or name in self.force or (parent is not None and parent.key in self.forced_keys)
        if forced:
            self.forced_keys.add(key)
        self.ctx.say(f"[bold]{name}[/bold] ({stage_type}) key {key}")
        run_stage = distributed.shared_stage if trains and distributed.world_size() > 1 else RunFolder.run_stage
        artifact = run_stage(self.ctx.run, name, stage_type, key, parent.key if parent else None, versions,
                             lambda out: build(out, key), forced)
        if self.ctx.run.records[-1].status == "reused":
            self.ctx.say("  reused")
        return artifact

    def conversion(self, name: str, *args, **kwargs) -> Artifact | None:
        """A conversion that fails marks its rows failed; the other formats go on."""
        try:
            return self.stage(name, *args, **kwargs)
        except EdgeshipError:
            raise
        except Exception as err:  # converters raise anything; the message goes into the report row
            message = one_line(err)
            self.failures[name] = message
            self.ctx.say(f"  [red]failed[/red]: {message}")
            return None


def open_run(recipe: Recipe, run_dir: Path, force: set[str] | None, console: Console | None,
             publish: bool = True) -> Flow:
    run = RunFolder(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    if publish:
        text = recipe_to_yaml(recipe)
        write_atomic(run.root / "recipe.yaml", lambda tmp: tmp.write_text(text))
    console = console or Console(stderr=True)
    data = load_dataset(recipe.data)
    console.print(f"data: {recipe.data.source}: {len(data.x_train)} train / {len(data.x_val)} val / "
                  f"{len(data.x_test)} test, {data.num_classes} classes, key {data.key}")
    return Flow(Context(recipe=recipe, run=run, data=data, console=console), force or set())


def train_models(flow: Flow) -> dict[str, Artifact]:
    """teacher, the scratch baseline and the distilled student: the stages `edgeship distill` runs."""
    ctx, recipe, data = flow.ctx, flow.ctx.recipe, flow.ctx.data
    checkpoint = Path(recipe.teacher.checkpoint) if recipe.teacher.checkpoint else None
    checkpoint_sum = file_sha256(checkpoint) if checkpoint and checkpoint.is_file() else None
    teacher_art = flow.stage("teacher", "teacher", recipe.teacher.model_dump(mode="json"), None, TORCH_PACKAGES,
                             lambda out, key: teacher.run(None, recipe.teacher, out, ctx, key),
                             extra_key=(data.key, checkpoint_sum), trains=True)
    ctx.teacher = teacher_art
    stages = {"teacher": teacher_art}
    s_cfg = recipe.student.model_dump(mode="json")
    if recipe.distill.baseline:
        stages["student-scratch"] = flow.stage(
            "student-scratch", "distill", {"student": s_cfg, "method": "scratch"}, None, TORCH_PACKAGES,
            lambda out, key: distill.run(None, recipe.distill, out, ctx, key, "student-scratch"),
            extra_key=(data.key,), trains=True)
    d_cfg = recipe.distill.model_dump(mode="json", exclude={"baseline"})
    stages["student-kd"] = flow.stage(
        "student-kd", "distill", {"student": s_cfg, **d_cfg}, teacher_art, TORCH_PACKAGES,
        lambda out, key: distill.run(teacher_art, recipe.distill, out, ctx, key, "student-kd"),
        extra_key=(data.key,), trains=True, plugin_code=plugin_files(METHODS.get(recipe.distill.method)))
    return stages


def train_students(flow: Flow) -> tuple[dict[str, Artifact], Artifact]:
    """Every training stage (train_models, then pruning with its fine-tune): what all ranks of a distributed
    run do together. Returns the torch stages and the student the conversions start from."""
    ctx, recipe = flow.ctx, flow.ctx.recipe
    torch_stages = train_models(flow)
    student = torch_stages["student-kd"]
    if recipe.prune.enabled:
        student = flow.stage("pruned", "prune", recipe.prune.model_dump(mode="json"), student, TORCH_PACKAGES,
                             lambda out, key: prune.run(torch_stages["student-kd"], recipe.prune, out, ctx, key),
                             extra_key=(ctx.data.key, ctx.teacher.key), trains=True)
        torch_stages["pruned"] = student
    distributed.leave()
    return torch_stages, student


def optimize(recipe: Recipe, run_dir: Path, force: set[str] | None = None, console: Console | None = None,
             publish: bool = True) -> dict:
    """The whole recipe. publish=False (`edgeship bench RUN_DIR --target T`) benches and returns the rows but
    leaves the run's recipe.yaml, report and ship/ as the last full optimize wrote them."""
    flow = open_run(recipe, run_dir, force, console, publish)
    ctx, data, run, console = flow.ctx, flow.ctx.data, flow.ctx.run, flow.ctx.console
    torch_stages, final_student = train_students(flow)

    if recipe.quantize.enabled:
        c = recipe.quantize.calibration
        ctx.calibration = build_calibration_set(data.inputs(data.x_train), data.y_train, data.key, c.samples,
                                                c.sampling, c.seed)
        ctx.calibration.save(run.root / "calibration")
    converted: dict[str, Artifact] = {}
    for fmt in recipe.export.formats:
        packages = TORCH_PACKAGES + format_named(fmt).packages
        fp32 = flow.conversion(f"{fmt}-fp32", "export", {"format": fmt, **recipe.export.model_dump(mode="json")},
                               final_student, packages,
                               lambda out, key, fmt=fmt: convert.export(final_student, fmt, out, ctx, key),
                               extra_key=(data.key,), plugin_code=plugin_files(format_named(fmt)))
        if fp32 is None:
            if recipe.quantize.enabled:
                flow.failures[f"{fmt}-int8"] = f"not quantized: {fmt} export failed"
            continue
        converted[fp32.stage] = fp32
        if recipe.quantize.enabled:
            int8 = flow.conversion(
                f"{fmt}-int8", "quantize", {"format": fmt, **recipe.quantize.model_dump(mode="json")}, fp32,
                packages, lambda out, key, fp32=fp32: convert.quantize(fp32, final_student, fp32.format, out, ctx, key),
                extra_key=(ctx.calibration.key, data.key), plugin_code=plugin_files(format_named(fmt)))
            if int8 is not None:
                converted[int8.stage] = int8

    artifacts = {**torch_stages, **converted}
    console.print("[bold]bench[/bold]")
    results = bench_all(list(artifacts.values()), ctx, force="bench" in flow.force or "all" in flow.force)
    names = model_names(recipe.distill.method)
    final_name = names[final_student.stage]
    rows = []
    for column in bench_columns(recipe):
        for name, artifact in artifacts.items():
            if not column.cfg.measures(artifact.format):
                continue
            model = names.get(name, final_name)
            rows.append(make_row(artifact, name, artifact.format, artifact.precision, model, column.name,
                                 results.get((name, column.name))))
        for name, error in flow.failures.items():
            fmt, precision = name.rsplit("-", 1)
            rows.append(make_row(None, name, fmt, precision, final_name, column.name, None, error))
    add_speedups(rows)
    ship_choices = choose(rows, final_student.stage, recipe.export.formats, recipe.ship.max_accuracy_drop)
    report = {
        "recipe": recipe.name,
        "stages": [{"name": r.name, "type": r.type, "key": r.key, "status": r.status, "seconds": r.seconds,
                    "error": r.error} for r in run.records],
        "results": rows,
        "kd_verdict": kd_verdict(rows),
        "ship": ship_choices,
        "reference_stage": final_student.stage,
        "int8_vs_fp32": int8_vs_fp32(rows),
        "pruning": pruning_effect(rows),
        "distillation": {"method": recipe.distill.method,
                         "teacher_outputs": torch_stages["student-kd"].metrics.get("teacher_logits")},
    }
    if publish:
        write_report(run.root, report)
        write_ship(run.root, ship_choices, artifacts)
    return report
