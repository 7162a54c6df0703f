"""`edgeship bench RUN_DIR`: measure the artifacts an earlier optimize made, read through its manifest.json.

Nothing is rebuilt: a moved package version or a changed stage implementation does not retrain anything here;
the next `edgeship optimize` decides that. Results are cached per artifact, target and agent code as always.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.results import Report
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, STUDENT_KD, STUDENT_SCRATCH
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.engine.results import bench_and_report
from edgeship.pipeline.engine.ship_line import after_pruning, choose_start
from edgeship.pipeline.stages.context import Context

CONVERSIONS = ("export", "quantize")


def bench_run_folder(recipe: Recipe, run_dir: Path, force: bool, console: Console) -> Report:
    run = RunFolder(run_dir)
    records = run.read_manifest()
    if not records:
        raise EdgeshipError(f"{run_dir}: no stages in manifest.json (run 'edgeship optimize' first)")
    if any(rec.id is None for rec in records):
        raise EdgeshipError(f"{run_dir}: manifest.json was written by an edgeship before 0.2 (its stages have no "
                            "typed identity); run 'edgeship optimize' again")
    artifacts, failures = {}, {}
    for rec in records:
        folder = run.stage_dir(rec.name, rec.key)
        if rec.status in ("ok", "reused") and (folder / "artifact.json").is_file():
            artifacts[rec.name] = Artifact.read(folder)
        elif rec.type in CONVERSIONS:
            failures[rec.id] = rec.error or f"{rec.name}: no artifact in the run folder"
        else:
            raise EdgeshipError(f"{run_dir}: stage {rec.name} has no artifact (status {rec.status}); "
                                "run 'edgeship optimize' first")
    if STUDENT_KD.name not in artifacts and STUDENT_SCRATCH.name not in artifacts:
        raise EdgeshipError(f"{run_dir}: no trained student in the run folder; run 'edgeship optimize' first")
    line = choose_start(artifacts, recipe.ship.start_from)
    run.records = records
    ctx = Context(recipe=recipe, run=run, data=load_dataset(recipe.data), console=console)
    final, refused = after_pruning(artifacts.get(PRUNED.name), line.start, recipe.ship.max_accuracy_drop,
                                   ctx.task.metric_name, ctx.task.targets != "labels")
    notices = [n for n in (line.notice, refused) if n]
    return bench_and_report(ctx, artifacts, final.stage, failures, force, False, notices, line.start.stage)
