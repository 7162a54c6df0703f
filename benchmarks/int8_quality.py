#!/usr/bin/env python3
"""Int8 quality per runtime: fp32 vs int8 accuracy, drop, latency and size ratios, with and without the
accuracy-budget fallback. Prints one table; --out DIR also writes DIR/int8.json.

It runs a recipe through `edgeship optimize` twice, identical but for the quantize settings (fallback off;
fallback on with a 0.3-point budget), so both runs share every training stage and differ only in int8;
each run measures its fp32 and int8 artifacts afresh, one after the other.
Accuracy is the agent's on the held-out test split; latency is p50, batch 1, one thread, on this machine.
Default recipe: examples/fashion-mnist.yaml when Debian's dataset-fashion-mnist is installed, else digits.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.pipeline.cli.telemetry import opt_out_of_openvino_telemetry  # noqa: E402
from edgeship.pipeline.config.recipe import load_recipe  # noqa: E402
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR  # noqa: E402
from edgeship.pipeline.engine.optimize import optimize  # noqa: E402


def default_recipe() -> Path:
    fashion = (Path(DEFAULT_FASHION_DIR) / "train-images-idx3-ubyte.gz").is_file()
    return ROOT / "examples" / ("fashion-mnist.yaml" if fashion else "digits.yaml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=default_recipe())
    parser.add_argument("--budget", type=float, default=0.3, help="max accuracy drop (points) with the fallback")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edgeship-int8-bench"), help="run folder")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--student-width", type=int,
                        help="override the recipe student's width (int8 size ratios only near 0.25 once weights "
                             "outweigh the per-tensor scales and graph overhead of a tiny model)")
    args = parser.parse_args()
    opt_out_of_openvino_telemetry()
    base = load_recipe(args.recipe)
    if args.student_width:
        student = base.student.model_copy(update={"args": {**base.student.args, "width": args.student_width}})
        base = base.model_copy(update={"student": student, "name": f"{base.name}-w{args.student_width}"})
    print(f"recipe {args.recipe.name}; budget {args.budget} points; run folder {args.work}", flush=True)
    rows = []
    for budget_on in (False, True):
        quantize = base.quantize.model_copy(update={"fallback": budget_on, "max_accuracy_drop": args.budget})
        recipe = base.model_copy(update={"quantize": quantize})
        # Bench afresh in each run, so every int8/fp32 latency ratio compares two measurements of one job
        # rather than an int8 of now against an fp32 cached from an earlier, differently loaded run.
        report = optimize(recipe, args.work / base.name, force={"bench"})
        for entry in report.int8_vs_fp32:
            rows.append({"runtime": entry["runtime"], "format": entry["format"], "budget": budget_on,
                         "fp32_acc": entry["fp32_accuracy"], "int8_acc": entry["int8_accuracy"],
                         "drop_pt": entry["drop_pt"], "latency_ratio": entry["latency_ratio"],
                         "size_ratio": entry["size_ratio"], "float_layers": entry["float_layers"],
                         "warning": entry["warning"]})
    print()
    print(f"{'runtime':<16}{'budget':>7}{'fp32 %':>9}{'int8 %':>9}{'drop':>8}{'int8/fp32 p50':>15}"
          f"{'size':>7}  float layers")
    for r in rows:
        print(f"{r['runtime']:<16}{'on' if r['budget'] else 'off':>7}{r['fp32_acc']:>9.2f}{r['int8_acc']:>9.2f}"
              f"{r['drop_pt']:>+8.2f}{r['latency_ratio']:>14.2f}x{r['size_ratio']:>7.2f}  "
              f"{', '.join(r['float_layers']) or '-'}")
    with_budget = [r for r in rows if r["budget"]]
    worst = max(r["drop_pt"] for r in with_budget)
    biggest = max(r["size_ratio"] for r in with_budget)
    print(f"\nwith the budget: worst drop {worst:+.2f} points (target <= {args.budget}); "
          f"largest int8/fp32 size {biggest:.2f} (target <= 0.3)")
    for r in rows:
        if r["warning"]:
            print(f"warning: {r['runtime']} ({'budget on' if r['budget'] else 'budget off'}): {r['warning']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        keys = ("runtime", "budget", "fp32_acc", "int8_acc", "drop_pt", "latency_ratio", "size_ratio")
        (args.out / "int8.json").write_text(json.dumps({"rows": [{k: r[k] for k in keys} for r in rows],
                                                        "recipe": args.recipe.name}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
