"""`edgeship check` (the CI gate) and `edgeship baseline update`."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from edgeship.pipeline.cli.output import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, stdout_console
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


def _fraction(text: str, option: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    try:
        value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise EdgeshipError(f"{option} {text!r}: give a percentage like 10% or a fraction like 0.1") from None
    if not 0.0 <= value < 10.0:
        raise EdgeshipError(f"{option} {text!r}: out of range")
    return value


def cmd_check(args, console: Console) -> int:
    import os

    from edgeship.pipeline.core.contracts.plugins import TASKS
    from edgeship.pipeline.gate.compare import check_comparable, check_view, compare, load_rows, markdown
    from edgeship.pipeline.gate.remeasure import Retimer
    from edgeship.pipeline.gate.statistics import GateSettings

    confidence = _fraction(args.confidence, "--confidence")
    if not 0.5 < confidence < 1.0:
        raise EdgeshipError(f"--confidence {args.confidence}: must lie between 0.5 and 1 (e.g. 0.99)")
    if args.max_accuracy_drop < 0:
        raise EdgeshipError("--max-accuracy-drop: must be >= 0 points")
    if args.remeasure < 0:
        raise EdgeshipError("--remeasure: must be >= 0 looks")
    settings = GateSettings(_fraction(args.max_latency_regression, "--max-latency-regression"),
                            args.max_accuracy_drop, args.metric, confidence,
                            _fraction(args.between_run_spread, "--between-run-spread"), args.remeasure,
                            None if args.max_memory_regression == "off" else
                            _fraction(args.max_memory_regression, "--max-memory-regression"))
    baseline, current = load_rows(args.baseline), load_rows(args.current)
    if args.formats:
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        baseline, current = baseline.only_formats(formats), current.only_formats(formats)
    check_comparable(baseline, current)
    if current.task in TASKS.names():  # the drop in the task's own metric: "points mAP", "points mIoU"
        settings = replace(settings, accuracy_unit=f"points {TASKS.get(current.task).metric_name}")
    retimer = Retimer(baseline.path, baseline.rows, current.run_dir)
    result = compare(baseline.rows, current.rows, settings, retimer)
    text = markdown(result)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as summary:
            summary.write(text)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        stdout_console().print(check_view(result).rich())
    return {"pass": EXIT_OK, "fail": EXIT_FAILED, "inconclusive": EXIT_INCONCLUSIVE}[result.verdict]


def cmd_baseline_update(args, console: Console) -> int:
    from edgeship.pipeline.gate.compare import load_rows, write_baseline

    current = load_rows(args.current)
    rows = current.rows
    bad = [r for r in rows if r.ok and not r.emulated and not r.timings_ms]
    if bad:
        raise EdgeshipError(f"{args.current}: rows without raw timings (made before edgeship kept them); "
                            f"run 'edgeship optimize --force bench' first")
    out = Path(args.out)
    kept = write_baseline(rows, out, current.path, {"recipe": current.recipe, "task": current.task})
    models = len({r["model_file"] for r in kept if r.get("model_file")})
    print(f"baseline: {len(rows)} rows written to {out}, {models} models to {out.with_suffix('.models')}/")
    return EXIT_OK
