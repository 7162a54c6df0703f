"""`edgeship bench` (a run folder or model files, on the recipe's targets) and `edgeship targets check`."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgeship.pipeline.cli.output import EXIT_FAILED, EXIT_OK, results_table, stdout_console
from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


def _target_configs(recipe_path: str | None, names: list[str] | None, default_recipe: Path | None = None) -> list:
    """The recipe's targets named by --target (all of them without it); a plain local target without a recipe."""
    from edgeship.pipeline.config.recipe import load_recipe
    from edgeship.pipeline.config.targets import default_targets

    path = recipe_path or default_recipe
    if path is None:
        if names and names != ["local"]:
            raise EdgeshipError(f"--target {names[0]}: name a recipe with --recipe to say what that target is")
        return default_targets()
    targets = load_recipe(path).targets
    known = [t.name for t in targets]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise EdgeshipError(f"--target {unknown[0]}: not in {path} (targets: {', '.join(known)})")
    return [t for t in targets if not names or t.name in names]


def cmd_bench(args, console: Console) -> int:
    first = Path(args.models[0])
    if first.is_dir():
        return _bench_run_folder(args, first, console)
    return _bench_files(args, console)


def _bench_run_folder(args, run_dir: Path, console: Console) -> int:
    """Every artifact of an earlier optimize (read through its manifest, nothing rebuilt) on the named targets;
    report.json is kept."""
    from edgeship.pipeline.config.recipe import load_recipe
    from edgeship.pipeline.core.infrastructure.runlock import run_lock
    from edgeship.pipeline.engine.rebench import bench_run_folder

    if len(args.models) > 1:
        raise EdgeshipError("bench takes one run folder, or model files, not both")
    stored = run_dir / "recipe.yaml"
    if not stored.is_file():
        raise EdgeshipError(f"{run_dir}: no recipe.yaml (not an edgeship run folder)")
    targets = _target_configs(args.recipe, args.target, stored)
    recipe = load_recipe(stored)
    recipe = recipe.model_copy(update={"targets": targets})
    with run_lock(run_dir):
        report = bench_run_folder(recipe, run_dir, args.force, console)
    stdout_console().print(results_table(report.results, f"edgeship bench: {recipe.name}", report.metric))
    return EXIT_OK if all(r.ok for r in report.results) else EXIT_FAILED


def _bench_files(args, console: Console) -> int:
    from edgeship.pipeline.core.contracts.formats import format_by_suffix
    from edgeship.pipeline.core.contracts.plugins import FORMATS
    from edgeship.targets.base import BenchRequest
    from edgeship.targets.registry import make_target

    request = BenchRequest(eval_npz=Path(args.eval).resolve() if args.eval else None, threads=args.threads,
                           min_runs=args.min_runs, min_seconds=args.min_seconds)
    if request.eval_npz and not request.eval_npz.is_file():
        raise EdgeshipError(f"--eval {args.eval}: file not found")
    models = []
    for model in args.models:
        path = Path(model)
        if not path.is_file():
            raise EdgeshipError(f"model file not found: {path}")
        fmt = format_by_suffix(path.suffix)
        if fmt is None:
            suffixes = sorted({f.suffix for _, f in FORMATS.items()} | {".pt2"})
            raise EdgeshipError(f"{path}: unknown model format (use {', '.join(suffixes)})")
        models.append((path.resolve(), fmt))
    rows = []
    for cfg in _target_configs(args.recipe, args.target):
        results = [AgentResult.parse(r) for r in make_target(cfg).bench_many(models, request)]
        for (path, fmt), result in zip(models, results):
            rows.append({"model": path.name, "format": fmt, "precision": "-", "target": cfg.name,
                         "size_bytes": path.stat().st_size, "accuracy": result.accuracy,
                         "latency_ms": result.latency_ms, "status": result.status, "error": result.error,
                         "speedup_vs_teacher": None, "emulated": result.emulated})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        stdout_console().print(results_table(rows, "edgeship bench"))
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_FAILED


def cmd_targets_check(args, console: Console) -> int:
    from edgeship.pipeline.bench.targets_check import check_targets
    from edgeship.pipeline.config.recipe import load_recipe
    from edgeship.pipeline.core.contracts.formats import format_named

    recipe = load_recipe(args.recipe)
    rows = check_targets(recipe)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        # one column per runtime the recipe's formats need, from the format registry (a plug-in's included)
        runtimes = list(dict.fromkeys(format_named(fmt).runtime for fmt in recipe.export.formats))
        table = Table(title=f"edgeship targets: {recipe.name}")
        for col in ("target", "type", "machine", "emulated", "CPU features", "python", *runtimes, "free MB", "usable"):
            table.add_column(col)
        for r in rows:
            verdict = "yes" if r.usable else f"[red]no[/red]: {r.problem}"
            table.add_row(r.target, r.type, r.machine or "-", f"yes ({r.emulated_cpu})" if r.emulated else "no",
                          " ".join(r.cpu_features) or "-", r.python or "-",
                          *(str(r.runtimes.get(name) or "-") for name in runtimes), str(r.free_disk_mb or "-"),
                          verdict)
        stdout_console().print(table)
    return EXIT_OK if all(r.usable for r in rows) else EXIT_FAILED
