"""edgeship command line: optimize, distill, bench, targets check, check, baseline update, report."""
from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgeship.pipeline.cli.bench import cmd_bench, cmd_targets_check
from edgeship.pipeline.cli.check import cmd_baseline_update, cmd_check
from edgeship.pipeline.cli.launcher import failed_rank, follow, launch
from edgeship.pipeline.cli.output import EXIT_BUDGET, EXIT_FAILED, EXIT_OK, EXIT_USAGE, results_table, stdout_console
from edgeship.pipeline.cli.telemetry import opt_out_of_openvino_telemetry
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.progress import stderr_console
from edgeship.pipeline.training.distributed import under_torchrun


def _in_run_folder(args, work, train_part):
    """Load the recipe, lock its run folder, clear a killed run's temp folders, then do the work. Under torchrun
    the ranks other than 0 only run `train_part` (along with rank 0) and return None."""
    from edgeship.pipeline.config.recipe import load_recipe, with_budget
    from edgeship.pipeline.core.infrastructure.runlock import run_lock
    from edgeship.pipeline.core.infrastructure.stale import clean_stale_temp
    from edgeship.pipeline.training import distributed

    recipe = with_budget(load_recipe(args.recipe), getattr(args, "latency_budget", None),
                         getattr(args, "budget_target", None))
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name
    force = set(args.force or [])
    distributed.join_from_env()  # a no-op outside torchrun
    try:
        if not distributed.is_main():
            follow(recipe, force, train_part)
            return None
        with run_lock(run_dir):
            clean_stale_temp(run_dir)
            return recipe, run_dir, work(recipe, run_dir, force)
    finally:
        distributed.leave()


def cmd_optimize(args, console: Console) -> int:
    from edgeship.pipeline.engine.optimize import optimize, train_students

    done = _in_run_folder(args, lambda recipe, run_dir, force: optimize(recipe, run_dir, force, console,
                                                                        search=args.search), train_students)
    if done is None:
        return EXIT_OK
    recipe, run_dir, report = done
    out = stdout_console()
    out.print(results_table(report.results, f"edgeship: {recipe.name}", report.metric))
    for notice in report.notices:
        out.print(f"[bold yellow]{notice}[/bold yellow]")
    if report.kd_verdict:
        out.print(report.kd_verdict)
    for fmt, choice in report.ship.items():
        out.print(f"ship {fmt}: {choice.reason}")
    out.print(f"report: {run_dir / 'report.md'}, {run_dir / 'report.html'}  ship: {run_dir / 'ship'}")
    if recipe.budget.enabled and not any(choice.stage for choice in report.ship.values()):
        out.print(f"budget not met: nothing shipped ({recipe.budget.latency_ms} ms {recipe.budget.metric}); every "
                  f"stage is kept in {run_dir}")
        return EXIT_BUDGET
    failed = [r for r in report.results if not r.ok]
    return EXIT_FAILED if failed else EXIT_OK


def _count(metrics: dict, key: str) -> str:
    """MACs or params with thousands separators; '-' where unknown (an ONNX teacher)."""
    return "-" if metrics.get(key) is None else f"{metrics[key]:,}"


def cmd_distill(args, console: Console) -> int:
    from edgeship.pipeline.engine.flow import open_run
    from edgeship.pipeline.engine.optimize import train_models
    from edgeship.pipeline.reporting.report import model_name

    def work(recipe, run_dir, force):
        flow = open_run(recipe, run_dir, force, console)
        flow.search = args.search
        return flow.ctx, train_models(flow)

    done = _in_run_folder(args, work, train_models)
    if done is None:
        return EXIT_OK
    _, _, (ctx, stages) = done
    recipe = ctx.recipe  # with the search's pick
    table = Table(title=f"edgeship distill: {recipe.name}")
    for col in ("model", "method", "MACs", "params", "val %", "test %", "s/epoch", "teacher outputs", "folder"):
        table.add_column(col)
    for name, art in stages.items():
        m = art.metrics
        table.add_row(model_name(art.id, recipe.distill.method), m.get("method", "-"), _count(m, "macs"),
                      _count(m, "params"), f"{m['val_accuracy']:.2f}", f"{m['test_accuracy']:.2f}",
                      f"{m.get('seconds_per_epoch', 0):.2f}", m.get("teacher_logits", "-"), str(art.folder))
    stdout_console().print(table)
    return EXIT_OK


def cmd_report(args, console: Console) -> int:
    from edgeship.pipeline.reporting.report import read_report, write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "report.json").is_file():
        raise EdgeshipError(f"{run_dir}: no report.json (run 'edgeship optimize' first)")
    report = read_report(run_dir)
    write_report(run_dir, report)
    stdout_console().print(results_table(report.results, f"edgeship: {report.recipe}", report.metric))
    return EXIT_OK


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _search_option(p: argparse.ArgumentParser) -> None:
    from edgeship.pipeline.stages.search import DEFAULT_BUDGET_SECONDS

    p.add_argument("--search", nargs="?", type=_positive_int, const=DEFAULT_BUDGET_SECONDS, metavar="SECONDS",
                   help="first try distillation methods x temperature x alpha (x balance) by successive halving on "
                   "the validation split, within SECONDS (default %(const)d), then train the pick fully; every "
                   "trial in RUN_DIR/search/trials.csv")


def _nproc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                   help="train on N processes of this machine with torchrun + DistributedDataParallel "
                   "(the recipe's batch_size stays the global batch; default 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeship", description="Distill, prune, quantize, convert and "
                                     "benchmark PyTorch models for edge devices.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("optimize", help="run a recipe: teacher -> student -> int8 ONNX/TFLite/OpenVINO -> report")
    p.add_argument("recipe", help="recipe YAML file (see examples/)")
    p.add_argument("--run-dir", help="run folder (default runs/<recipe name>)")
    p.add_argument("--force", action="append", metavar="STAGE",
                   help="rerun STAGE and everything after it even if cached (repeatable; 'all', 'bench')")
    _nproc_option(p)
    _search_option(p)
    p.add_argument("--latency-budget", metavar="MS", help="ship the most accurate student whose latency (budget: "
                   "metric, p50 by default) stays within MS milliseconds on the budget's target, e.g. 8ms: "
                   "a search prunes the distilled student layer by layer, measuring on the target")
    p.add_argument("--target", dest="budget_target", metavar="NAME",
                   help="the recipe target the latency budget is for (default: budget.target, else the first)")
    p.set_defaults(func=cmd_optimize)
    p = sub.add_parser("distill", help="run only teacher, scratch student and distillation (optimize reuses them)")
    p.add_argument("recipe", help="recipe YAML file (see examples/)")
    p.add_argument("--run-dir", help="run folder (default runs/<recipe name>)")
    p.add_argument("--force", action="append", metavar="STAGE", help="rerun STAGE and what follows ('all')")
    _nproc_option(p)
    _search_option(p)
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
    p.add_argument("--max-accuracy-drop", type=float, default=0.5,
                   help="points of the task's metric (top-1, mIoU) allowed (default 0.5)")
    p.add_argument("--max-memory-regression", default="25%",
                   help="growth of the agent's peak RSS allowed (default 25%%; off: not judged)")
    p.add_argument("--metric", choices=("p50", "p90"), default="p50")
    p.add_argument("--formats", metavar="F[,F]",
                   help="judge only these formats' rows, e.g. the ones the project ships (default: every row)")
    p.add_argument("--confidence", default="0.99", help="one-sided confidence of a verdict (default 0.99)")
    p.add_argument("--remeasure", type=int, default=3, metavar="N",
                   help="time baseline and candidate interleaved, up to N looks per row, when CURRENT is a run "
                        "folder and the baseline has its models (default 3; 0: judge stored timings only)")
    p.add_argument("--between-run-spread", default="15%",
                   help="how far one model's latency moves between separate runs; stored timings of two runs "
                        "must clear the threshold by it (default 15%%)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("baseline", help="manage the baseline file the check compares with")
    baseline_sub = p.add_subparsers(dest="baseline_command", required=True)
    p = baseline_sub.add_parser("update", help="write the current results (raw timings included) as the baseline")
    p.add_argument("current", help="run folder or report.json")
    p.add_argument("--out", default="edgeship-baseline.json", help="baseline file (default edgeship-baseline.json)")
    p.set_defaults(func=cmd_baseline_update)
    p = sub.add_parser("report", help="print a run's results and rewrite its report.md and report.html")
    p.add_argument("run_dir", help="run folder of an earlier optimize")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    opt_out_of_openvino_telemetry()
    console = stderr_console()
    try:
        if getattr(args, "search", None) and getattr(args, "nproc", 1) > 1:
            raise EdgeshipError("--search runs its trials in one process: leave out --nproc")
        if getattr(args, "nproc", 1) > 1 and not under_torchrun():
            from edgeship.pipeline.config.recipe import load_recipe

            load_recipe(args.recipe)  # a bad recipe: one line here, before N processes start
            return launch(main, argv, args.nproc)
        return args.func(args, console)
    except EdgeshipError as err:
        print(f"edgeship: error: {err}", file=sys.stderr)  # plain print: rich would wrap the line
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("edgeship: interrupted; finished stages are kept", markup=False)
        return 130
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(f"edgeship: error: no space left on device{where}; finished stages are kept, nothing half-written "
              "(free some space and run the same command again)", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        if not under_torchrun():
            raise
        return failed_rank(err)


if __name__ == "__main__":
    sys.exit(main())
