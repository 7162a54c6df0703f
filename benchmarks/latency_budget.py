#!/usr/bin/env python3
"""Does the latency-budget search beat the obvious ways to make a student fast enough? Fashion-MNIST at 64 px
(--image-size), a CIFAR ResNet teacher and a MobileNetV2 student distilled once; budgets at fractions of that
student's int8 p50 on the local target (each runtime, 1 thread). At each budget, against two baselines measured the
same way (the more accurate of its int8 and fp32 files of the same runtime within the budget, as ship takes it; the
same bench; the upper end of the 95% interval of p50 within the budget):
- uniform pruning: one prune.ratio for every layer, found by bisection to meet the budget, the same KD fine-tune;
- a uniform width multiplier (torchvision's width_mult), found by bisection, distilled for the student's epochs
  plus the fine-tune's.
Everything runs through `edgeship optimize` in a subprocess (the product as users run it), one run folder per seed
so the teacher and the student train once. --out DIR writes DIR/latency_budget.json: "budgets", one row per
runtime and budget over the seeds (mean accuracy and p50 of the seeds where each met the budget, their spread,
how many met it), and "runs", each seed's row.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.pipeline.core.contracts.speed import latency_interval  # noqa: E402
from edgeship.pipeline.core.infrastructure.timings_file import attach_timings  # noqa: E402
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=DEFAULT_FASHION_DIR)
    p.add_argument("--out", type=Path, default=Path("/tmp/latency_budget"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--runtimes", default="onnx,openvino")
    p.add_argument("--fractions", default="0.5,0.35,0.25", help="budgets as fractions of the student's int8 p50")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--limit-train", type=int, default=3000)
    p.add_argument("--limit-val", type=int, default=1000, help="validation images: every search candidate is "
                   "scored on them (Fashion-MNIST's 6000 made a 128 px step minutes long)")
    p.add_argument("--limit-test", type=int, default=3000)
    p.add_argument("--teacher-epochs", type=int, default=8)
    p.add_argument("--teacher-width", type=int, default=16, help="the CIFAR ResNet-20 teacher's first width "
                   "(it keeps full resolution in its first stage: at 128 px, 8 trains 4x faster than 16)")
    p.add_argument("--student-epochs", type=int, default=8)
    p.add_argument("--finetune-epochs", type=int, default=3)
    p.add_argument("--bisection-steps", type=int, default=5)
    p.add_argument("--max-search-seconds", type=float, default=1800.0)
    return p.parse_args()


def base_recipe(args, seed: int, runtimes: list[str]) -> dict:
    return {
        "name": f"budget-seed{seed}", "seed": seed,
        "data": {"source": f"fashion-mnist:{args.data}", "image_size": args.image_size, "channels": 1,
                 "mean": [0.286], "std": [0.353], "limit_train": args.limit_train,
                 "limit_val": args.limit_val, "limit_test": args.limit_test},
        "teacher": {"arch": "cifar_resnet20", "args": {"width": args.teacher_width},
                    "train": {"epochs": args.teacher_epochs, "batch_size": 64}},
        "student": {"arch": "mobilenet_v2", "train": {"epochs": args.student_epochs, "batch_size": 64}},
        "distill": {"method": "kd", "baseline": False},
        "prune": {"enabled": False, "finetune": {"epochs": args.finetune_epochs}},
        "export": {"formats": runtimes, "teacher": False},
        "quantize": {"calibration": {"samples": 200}},
        "bench": {"min_runs": 200, "min_seconds": 1.0, "threads": 1, "profile_runs": 0, "paired_min_runs": 0},
        "ship": {"start_from": "kd"},
    }


def optimize(recipe: dict, folder: Path) -> tuple[int, dict]:
    """(exit code, report): exit 4 (budget not met) is an answer, not a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{recipe['name']}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "edgeship.pipeline.cli", "optimize", str(path), "--run-dir",
                           str(folder / "run")], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 4):
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"edgeship optimize failed (exit {done.returncode})")
    path = folder / "run" / "report.json"
    return done.returncode, attach_timings(path, json.loads(path.read_text()))


def runtime_rows(report: dict, runtime: str) -> dict[str, dict]:
    """Precision -> the file of `runtime` on local: its test accuracy, p50 and the upper end of the p50's interval."""
    found = {}
    for row in report["results"]:
        if row["status"] == "ok" and row["target"] == "local" and row["stage"].startswith(f"{runtime}-"):
            p50, _, high = latency_interval(row["timings_ms"], "p50")
            found[row["stage"].rpartition("-")[2]] = {"accuracy": row["accuracy"], "p50_ms": p50, "hi_ms": high,
                                                       "precision": row["stage"].rpartition("-")[2]}
    return found


def within(report: dict, runtime: str, budget_ms: float) -> tuple[bool, dict | None]:
    """A baseline as ship would take it: the more accurate of its int8 and fp32 files within the budget (int8 is
    not faster on every CPU), else the faster of them."""
    rows = list(runtime_rows(report, runtime).values())
    meeting = [r for r in rows if r["hi_ms"] <= budget_ms]
    if meeting:
        return True, max(meeting, key=lambda r: r["accuracy"])
    return False, min(rows, key=lambda r: r["p50_ms"], default=None)


def _said(what: str, found: tuple[bool, dict | None]) -> tuple[bool, dict | None]:
    ok, row = found
    print(f"  {what}: {'meets' if ok else 'misses'}: {row}", flush=True)
    return found


def bisect(meets, low: float, high: float, steps: int, prefer_high: bool) -> tuple[float, dict] | None:
    """The setting nearest the boundary that still meets the budget: `meets(x)` -> (ok, figures). prefer_high:
    larger x is more accurate (a width), else smaller x is (a pruning ratio)."""
    best = None
    for _ in range(steps):
        middle = (low + high) / 2
        ok, figures = meets(middle)
        if ok:
            best = (middle, figures)
            low, high = (middle, high) if prefer_high else (low, middle)
        else:
            low, high = (low, middle) if prefer_high else (middle, high)
    return best


def estimate_error(searched: dict) -> dict | None:
    """How far the layer table's estimates were from the whole-model timings of the candidates timed both ways:
    the median and the largest relative error."""
    tried = [t for s in searched.get("steps", []) for t in s.get("tried", [])]
    both = [t for t in tried if "estimated_ms" in t and "latency_ms" in t]
    if not both:
        return None
    errors = sorted(abs(t["estimated_ms"] - t["latency_ms"]) / t["latency_ms"] for t in both)
    return {"candidates": len(both), "median_rel": errors[len(errors) // 2], "max_rel": errors[-1]}


def one_budget(args, recipe: dict, folder: Path, runtime: str, budget_ms: float) -> dict:
    started = time.monotonic()
    code, report = optimize({**recipe, "name": f"{recipe['name']}-{runtime}-{budget_ms:.3f}",
                             "budget": {"latency_ms": budget_ms, "format": runtime,
                                        "max_search_seconds": args.max_search_seconds}}, folder)
    choice = report["ship"].get(runtime, {})
    rows = runtime_rows(report, runtime)
    shipped = rows.get(str(choice.get("stage", "")).rpartition("-")[2])
    # what the search reached, shipped or not: its fastest file, on the test split as the baselines are
    fastest = min(rows.values(), key=lambda r: r["p50_ms"], default=None)
    seconds = time.monotonic() - started

    def pruned(ratio: float):
        _, rep = optimize({**recipe, "name": f"{recipe['name']}-uprune", "prune": {
            "enabled": True, "ratio": round(ratio, 4), "steps": 1, "finetune": {"epochs": args.finetune_epochs}}},
            folder)
        return _said(f"uniform prune {ratio:.3f}", within(rep, runtime, budget_ms))

    def width(multiplier: float):
        epochs = args.student_epochs + args.finetune_epochs
        _, rep = optimize({**recipe, "name": f"{recipe['name']}-width", "student": {
            "arch": "mobilenet_v2", "args": {"width_mult": round(multiplier, 4)},
            "train": {"epochs": epochs, "batch_size": 64}}}, folder)
        return _said(f"width {multiplier:.3f}", within(rep, runtime, budget_ms))

    searched = report.get("budget") or {}
    uniform = bisect(pruned, 0.0, 0.95, args.bisection_steps, prefer_high=False)
    narrow = bisect(width, 0.1, 1.0, args.bisection_steps, prefer_high=True)
    return {"runtime": runtime, "budget_ms": budget_ms, "shipped": shipped, "searched_fastest": fastest, "exit": code,
            "uniform_prune": uniform[1] | {"ratio": uniform[0]} if uniform else None,
            "uniform_width": narrow[1] | {"width_mult": narrow[0]} if narrow else None,
            "seconds": seconds, "seeds": 1, "steps": max(0, len(searched.get("steps", [])) - 1),
            "layer_table": searched.get("layer_table"), "estimate_error": estimate_error(searched),
            "from_scratch": searched.get("from_scratch"), "stopped": (searched.get("stopped") or {}).get("why")}


def across_seeds(runs: list[dict]) -> list[dict]:
    """One row per (runtime, budget fraction), the issue's schema: each contender's accuracy and p50 as the mean
    over the seeds where it met the budget, with their spread and how many met it; `seeds` counts the seeds."""
    rows = []
    for runtime, fraction in dict.fromkeys((r["runtime"], r["fraction"]) for r in runs):
        same = [r for r in runs if r["runtime"] == runtime and r["fraction"] == fraction]
        row = {"runtime": runtime, "fraction": fraction, "budget_ms": statistics.fmean(r["budget_ms"] for r in same),
               "seconds": statistics.fmean(r["seconds"] for r in same), "seeds": len(same)}
        for name in ("shipped", "searched_fastest", "uniform_prune", "uniform_width"):
            met = [r[name] for r in same if r[name]]
            row[name] = {"accuracy": statistics.fmean(m["accuracy"] for m in met),
                         "accuracy_std": statistics.stdev(m["accuracy"] for m in met) if len(met) > 1 else 0.0,
                         "p50_ms": statistics.fmean(m["p50_ms"] for m in met),
                         "hi_ms": max(m.get("hi_ms", m["p50_ms"]) for m in met), "met": len(met)} if met else None
        rows.append(row)
    return rows


def main() -> int:
    args = parse_args()
    if not (Path(args.data) / "train-images-idx3-ubyte.gz").is_file():
        print(f"SKIPPED: Fashion-MNIST not found in {args.data} (apt-get install dataset-fashion-mnist)")
        return 0
    runtimes = args.runtimes.split(",")
    fractions = [float(f) for f in args.fractions.split(",")]
    started, budgets = time.monotonic(), []
    for seed in range(args.seeds):
        folder = args.out / f"seed{seed}"
        recipe = base_recipe(args, seed, runtimes)
        _, report = optimize(recipe, folder)
        for runtime in runtimes:
            start = runtime_rows(report, runtime)["int8"]
            print(f"seed {seed} {runtime}: student int8 {start['p50_ms']:.3f} ms p50, {start['accuracy']:.2f}%",
                  flush=True)
            for fraction in fractions:
                found = one_budget(args, recipe, folder, runtime, round(fraction * start["p50_ms"], 4))
                found.update(seed=seed, fraction=fraction, student=start)
                budgets.append(found)
                print(json.dumps(found), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency_budget.json").write_text(json.dumps(
        {"budgets": across_seeds(budgets), "runs": budgets, "seconds": time.monotonic() - started}, indent=1))
    for b in budgets:
        line = [f"{b['runtime']} {b['fraction']:.2f} ({b['budget_ms']:.3f} ms) seed {b['seed']}:"]
        for name in ("shipped", "searched_fastest", "uniform_prune", "uniform_width"):
            got = b[name]
            line.append(f"{name} {got['accuracy']:.2f}% at {got['p50_ms']:.3f} ms" if got else f"{name} none")
        error = b["estimate_error"]
        table = f", layer table median error {error['median_rel']:.0%} over {error['candidates']}" if error else ""
        scratch = b["from_scratch"]
        retrained = (f", winner val {scratch['fine_tuned_val_accuracy']:.2f}% fine-tuned / "
                     f"{scratch['val_accuracy']:.2f}% from scratch ({scratch['kept']} kept)"
                     if isinstance(scratch, dict) else "")
        stopped = f", stopped: {b['stopped']}" if b.get("stopped") else ""
        print("  ".join(line) + f"  search {b['seconds']:.0f} s, {b['steps']} steps{table}{retrained}{stopped}")
    if args.seeds > 1:
        for row in across_seeds(budgets):
            cells = [f"{name} {row[name]['accuracy']:.2f} ± {row[name]['accuracy_std']:.2f}% at "
                     f"{row[name]['p50_ms']:.3f} ms ({row[name]['met']} met)" if row[name] else f"{name} none"
                     for name in ("shipped", "uniform_prune", "uniform_width")]
            print(f"{row['runtime']} {row['fraction']:.2f} over {row['seeds']} seeds: " + "  ".join(cells))
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
