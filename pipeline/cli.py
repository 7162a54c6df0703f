"""edgeship command line: optimize, distill, bench, targets check, check, baseline update, report."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.errors import EdgeshipError
from pipeline.telemetry import opt_out_of_openvino_telemetry

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _results_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col in ("model", "format", "precision", "target", "size KB", "accuracy %", "p50 ms", "p90 ms",
                "vs teacher", "status"):
        table.add_column(col, justify="right" if col[0] in "sapv" and col != "status" else "left")
    for r in rows:
        lat = r.get("latency_ms") or {}
        p50, p90 = (f"{lat['p50']:.3f}", f"{lat['p90']:.3f}") if lat else ("-", "-")
        if r.get("emulated") and lat:
            p50 = p90 = "emulated"  # an emulator's latency never sits beside a device's
        size = f"{r['size_bytes'] / 1024:.1f}" if r.get("size_bytes") else "-"
        acc = f"{r['accuracy']:.2f}" if r.get("accuracy") is not None else "-"
        speed = f"{r['speedup_vs_teacher']:.1f}x" if r.get("speedup_vs_teacher") else "-"
        status = r["status"] if r["status"] == "ok" else f"[red]{r['status']}[/red] {r.get('error') or ''}"[:120]
        table.add_row(r["model"], r["format"], r["precision"], r["target"], size, acc,
                      p50, p90, speed, status)
    return table


def _stdout_console() -> Console:
    """Wide enough for the results table when stdout is a file or a CI log (rich would assume 80 columns)."""
    console = Console()
    return console if console.is_terminal else Console(width=180)


def _in_run_folder(args, work):
    """Load the recipe, lock its run folder, clear a killed run's temp folders, then do the work."""
    from pipeline.optimize import clean_stale_temp
    from pipeline.recipe import load_recipe
    from pipeline.runlock import run_lock

    recipe = load_recipe(args.recipe)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name
    with run_lock(run_dir):
        clean_stale_temp(run_dir)
        return recipe, run_dir, work(recipe, run_dir, set(args.force or []))


def cmd_optimize(args, console: Console) -> int:
    from pipeline.optimize import optimize

    recipe, run_dir, report = _in_run_folder(
        args, lambda recipe, run_dir, force: optimize(recipe, run_dir, force, console))
    out = _stdout_console()
    out.print(_results_table(report["results"], f"edgeship: {recipe.name}"))
    if report.get("kd_verdict"):
        out.print(report["kd_verdict"])
    for fmt, choice in report["ship"].items():
        out.print(f"ship {fmt}: {choice['reason']}")
    out.print(f"report: {run_dir / 'report.md'}  ship: {run_dir / 'ship'}")
    failed = [r for r in report["results"] if r["status"] != "ok"]
    return EXIT_FAILED if failed else EXIT_OK


def cmd_distill(args, console: Console) -> int:
    from pipeline.optimize import open_run, train_models
    from pipeline.report import model_names

    recipe, _, stages = _in_run_folder(
        args, lambda recipe, run_dir, force: train_models(open_run(recipe, run_dir, force, console)))
    names = model_names(recipe.distill.method)
    table = Table(title=f"edgeship distill: {recipe.name}")
    for col in ("model", "method", "MACs", "params", "val %", "test %", "s/epoch", "teacher outputs", "folder"):
        table.add_column(col)
    for name, art in stages.items():
        m = art.metrics
        table.add_row(names[name], m.get("method", "-"), f"{m['macs']:,}", f"{m['params']:,}",
                      f"{m['val_accuracy']:.2f}", f"{m['test_accuracy']:.2f}", f"{m.get('seconds_per_epoch', 0):.2f}",
                      m.get("teacher_logits", "-"), str(art.folder))
    _stdout_console().print(table)
    return EXIT_OK


def _target_configs(recipe_path: str | None, names: list[str] | None, default_recipe: Path | None = None) -> list:
    """The recipe's targets named by --target (all of them without it); a plain local target without a recipe."""
    from pipeline.recipe import load_recipe
    from pipeline.target_config import LocalTargetConfig

    path = recipe_path or default_recipe
    if path is None:
        if names and names != ["local"]:
            raise EdgeshipError(f"--target {names[0]}: name a recipe with --recipe to say what that target is")
        return [LocalTargetConfig()]
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
    """Every artifact of an earlier optimize on the named targets; stages are reused, report.json is kept."""
    from pipeline.optimize import optimize
    from pipeline.recipe import load_recipe
    from pipeline.runlock import run_lock

    if len(args.models) > 1:
        raise EdgeshipError("bench takes one run folder, or model files, not both")
    stored = run_dir / "recipe.yaml"
    if not stored.is_file():
        raise EdgeshipError(f"{run_dir}: no recipe.yaml (not an edgeship run folder)")
    targets = _target_configs(args.recipe, args.target, stored)
    recipe = load_recipe(stored)
    recipe = recipe.model_copy(update={"targets": targets})
    with run_lock(run_dir):
        report = optimize(recipe, run_dir, {"bench"} if args.force else None, console, publish=False)
    _stdout_console().print(_results_table(report["results"], f"edgeship bench: {recipe.name}"))
    return EXIT_OK if all(r["status"] == "ok" for r in report["results"]) else EXIT_FAILED


def _bench_files(args, console: Console) -> int:
    from targets.agent import FORMAT_BY_SUFFIX
    from targets.base import BenchRequest
    from targets.registry import make_target

    request = BenchRequest(eval_npz=Path(args.eval).resolve() if args.eval else None, threads=args.threads,
                           min_runs=args.min_runs, min_seconds=args.min_seconds)
    if request.eval_npz and not request.eval_npz.is_file():
        raise EdgeshipError(f"--eval {args.eval}: file not found")
    models = []
    for model in args.models:
        path = Path(model)
        if not path.is_file():
            raise EdgeshipError(f"model file not found: {path}")
        fmt = FORMAT_BY_SUFFIX.get(path.suffix)
        if fmt is None:
            raise EdgeshipError(f"{path}: unknown model format (use {', '.join(FORMAT_BY_SUFFIX)})")
        models.append((path.resolve(), fmt))
    rows = []
    for cfg in _target_configs(args.recipe, args.target):
        results = make_target(cfg).bench_many(models, request)
        for (path, fmt), result in zip(models, results):
            rows.append({"model": path.name, "format": fmt, "precision": "-", "target": cfg.name,
                         "size_bytes": path.stat().st_size, "accuracy": result.get("accuracy"),
                         "latency_ms": result.get("latency_ms"), "status": result.get("status", "failed"),
                         "error": result.get("error"), "speedup_vs_teacher": None,
                         "emulated": result.get("emulated")})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _stdout_console().print(_results_table(rows, "edgeship bench"))
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_FAILED


def cmd_targets_check(args, console: Console) -> int:
    from pipeline.recipe import load_recipe
    from pipeline.targets_check import check_targets

    recipe = load_recipe(args.recipe)
    rows = check_targets(recipe)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        table = Table(title=f"edgeship targets: {recipe.name}")
        for col in ("target", "type", "machine", "emulated", "CPU features", "python", "onnxruntime", "openvino",
                    "tflite", "free MB", "usable"):
            table.add_column(col)
        for r in rows:
            rt = r.get("runtimes") or {}
            verdict = "yes" if r["usable"] else f"[red]no[/red]: {r['problem']}"
            table.add_row(r["target"], r["type"], r.get("machine") or "-",
                          f"yes ({r['emulated_cpu']})" if r["emulated"] else "no",
                          " ".join(r.get("cpu_features") or []) or "-", r.get("python") or "-",
                          rt.get("onnxruntime") or "-", (rt.get("openvino") or "-").split("-")[0],
                          rt.get("tflite") or "-", str(r.get("free_disk_mb") or "-"), verdict)
        _stdout_console().print(table)
    return EXIT_OK if all(r["usable"] for r in rows) else EXIT_FAILED


def _fraction(text: str, option: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    try:
        value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise EdgeshipError(f"{option} {text!r}: give a percentage like 10% or a fraction like 0.1") from None
    if not 0.0 <= value < 10.0:
        raise EdgeshipError(f"{option} {text!r}: out of range")
    return value


EXIT_INCONCLUSIVE = 3


def cmd_check(args, console: Console) -> int:
    import os

    from pipeline.check import compare, load_rows, markdown
    from pipeline.gate import GateSettings
    from pipeline.remeasure import remeasurer

    confidence = _fraction(args.confidence, "--confidence")
    if not 0.5 < confidence < 1.0:
        raise EdgeshipError(f"--confidence {args.confidence}: must lie between 0.5 and 1 (e.g. 0.99)")
    if args.max_accuracy_drop < 0:
        raise EdgeshipError("--max-accuracy-drop: must be >= 0 points")
    settings = GateSettings(_fraction(args.max_latency_regression, "--max-latency-regression"),
                            args.max_accuracy_drop, args.metric, confidence)
    base_rows, base_dir = load_rows(args.baseline)
    cur_rows, cur_dir = load_rows(args.current)
    again = remeasurer(base_dir, base_rows, cur_dir, cur_rows) if cur_dir and args.remeasure else None
    result = compare(base_rows, cur_rows, settings, again, args.remeasure)
    text = markdown(result)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as summary:
            summary.write(text)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        table = Table(title=f"edgeship check: {result['verdict'].upper()}")
        for col in ("model", "format", "precision", "target", "verdict", "latency ratio [interval]", "accuracy",
                    "why"):
            table.add_column(col)
        colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
        for r in result["rows"]:
            lat, acc = r.get("latency") or {}, r.get("accuracy") or {}
            ratio = f"{lat['ratio']:.3f} [{lat['low']:.3f}, {lat['high']:.3f}]" if lat.get("low") is not None else "-"
            table.add_row(r["model"], r["format"], r["precision"], r["target"],
                          f"[{colour[r['verdict']]}]{r['verdict']}[/]", ratio,
                          f"{-acc['drop']:+.2f}" if acc.get("drop") is not None else "-", r["reason"])
        for label in ("appeared", "disappeared"):
            for r in result[label]:
                table.add_row(r["model"], r["format"], r["precision"], r["target"], label, "-", "-", "not judged")
        _stdout_console().print(table)
    return {"pass": EXIT_OK, "fail": EXIT_FAILED, "inconclusive": EXIT_INCONCLUSIVE}[result["verdict"]]


def cmd_baseline_update(args, console: Console) -> int:
    from pipeline.check import load_rows, write_baseline

    rows, _ = load_rows(args.current)
    bad = [r for r in rows if r.get("status") == "ok" and not r.get("emulated") and not r.get("timings_ms")]
    if bad:
        raise EdgeshipError(f"{args.current}: rows without raw timings (made before edgeship kept them); "
                            f"run 'edgeship optimize --force bench' first")
    write_baseline(rows, Path(args.out), str(args.current))
    print(f"baseline: {len(rows)} rows written to {args.out}")
    return EXIT_OK


def cmd_report(args, console: Console) -> int:
    from pipeline.report import markdown, read_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "report.json").is_file():
        raise EdgeshipError(f"{run_dir}: no report.json (run 'edgeship optimize' first)")
    report = read_report(run_dir)
    (run_dir / "report.md").write_text(markdown(report))
    _stdout_console().print(_results_table(report["results"], f"edgeship: {report['recipe']}"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeship", description="Distill, prune, quantize, convert and "
                                     "benchmark PyTorch models for edge devices.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("optimize", help="run a recipe: teacher -> student -> int8 ONNX/TFLite/OpenVINO -> report")
    p.add_argument("recipe", help="recipe YAML file (see examples/)")
    p.add_argument("--run-dir", help="run folder (default runs/<recipe name>)")
    p.add_argument("--force", action="append", metavar="STAGE",
                   help="rerun STAGE and everything after it even if cached (repeatable; 'all', 'bench')")
    p.set_defaults(func=cmd_optimize)
    p = sub.add_parser("distill", help="run only teacher, scratch student and distillation (optimize reuses them)")
    p.add_argument("recipe", help="recipe YAML file (see examples/)")
    p.add_argument("--run-dir", help="run folder (default runs/<recipe name>)")
    p.add_argument("--force", action="append", metavar="STAGE", help="rerun STAGE and what follows ('all')")
    p.set_defaults(func=cmd_distill)
    p = sub.add_parser("bench", help="measure a run folder's artifacts, or model files, on targets")
    p.add_argument("models", nargs="+", metavar="RUN_DIR|MODEL_FILE",
                   help="a run folder of an earlier optimize, or .onnx, .xml (OpenVINO), .tflite, .pt2 files")
    p.add_argument("--target", action="append", metavar="NAME",
                   help="a target of the recipe (repeatable; default: all of them, or local for model files)")
    p.add_argument("--recipe", help="recipe whose targets: section names the targets (default: the run's own)")
    p.add_argument("--force", action="store_true", help="measure again even where results are cached")
    p.add_argument("--eval", help="npz with preprocessed 'inputs' and 'labels' for accuracy")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-runs", type=int, default=100)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("targets", help="check the targets of a recipe")
    targets_sub = p.add_subparsers(dest="targets_command", required=True)
    p = targets_sub.add_parser("check", help="reachability, architecture, CPU features, runtimes and free disk")
    p.add_argument("recipe", help="recipe YAML file with a targets: section")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_targets_check)
    p = sub.add_parser("check", help="CI gate: fail when latency or accuracy regressed against a baseline")
    p.add_argument("current", help="run folder, report.json or baseline file of the change")
    p.add_argument("--baseline", required=True, help="run folder, report.json or baseline file to compare with")
    p.add_argument("--max-latency-regression", default="10%", help="slowdown allowed (default 10%%)")
    p.add_argument("--max-accuracy-drop", type=float, default=0.5, help="top-1 points allowed (default 0.5)")
    p.add_argument("--metric", choices=("p50", "p90"), default="p50")
    p.add_argument("--confidence", default="0.99", help="one-sided confidence of a verdict (default 0.99)")
    p.add_argument("--remeasure", type=int, default=2, metavar="N",
                   help="measure inconclusive rows again up to N times when CURRENT is a run folder (default 2)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("baseline", help="manage the baseline file the check compares with")
    baseline_sub = p.add_subparsers(dest="baseline_command", required=True)
    p = baseline_sub.add_parser("update", help="write the current results (raw timings included) as the baseline")
    p.add_argument("current", help="run folder or report.json")
    p.add_argument("--out", default="edgeship-baseline.json", help="baseline file (default edgeship-baseline.json)")
    p.set_defaults(func=cmd_baseline_update)
    p = sub.add_parser("report", help="print a run's results and rewrite its report.md")
    p.add_argument("run_dir", help="run folder of an earlier optimize")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    opt_out_of_openvino_telemetry()
    console = Console(stderr=True)
    try:
        return args.func(args, console)
    except EdgeshipError as err:
        print(f"edgeship: error: {err}", file=sys.stderr)  # plain print: rich would wrap the line
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("edgeship: interrupted; finished stages are kept", markup=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
