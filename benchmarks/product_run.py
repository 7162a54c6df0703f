"""Shared by the task benchmarks: a recipe through `edgeship optimize` in a subprocess (the product as users run
it), and the figures its report gives per runtime."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_optimize(recipe: dict, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "edgeship.pipeline.cli", "optimize", str(path), "--run-dir",
                           str(folder / "run")], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"edgeship optimize failed (exit {done.returncode})")
    print(done.stdout[-6000:], flush=True)
    return json.loads((folder / "run" / "report.json").read_text())


def product_figures(report: dict) -> tuple[dict, dict, dict]:
    """Per runtime: the teacher/student p50 ratio (the shipped line's fp32 file against the teacher's export to
    the same format), the int8 accuracy drop (against the same format's fp32 file) and the fp32 student's
    post-processing ms on the device (tasks that have one)."""
    rows = [r for r in report["results"] if r["status"] == "ok" and r["target"] == "local"]
    fp32 = [r for r in rows if r["stage"] == f"{r['format']}-fp32"]
    ratio = {r["format"]: r["speedup_vs_teacher"] for r in fp32 if r.get("speedup_vs_teacher")}
    drops = {r["format"]: r["int8"]["drop"] for r in rows if r["precision"] == "int8" and r.get("int8")}
    post = {r["format"]: r["postprocess_ms"] for r in fp32 if r.get("postprocess_ms") is not None}
    return ratio, drops, post
