#!/usr/bin/env python3
"""Does the gate users run cry wolf, and does it sleep? `edgeship check` end to end, on run folders made by
`edgeship optimize` and on a baseline file from `edgeship baseline update`, on a local target and on an SSH
stand-in board (sshd on 127.0.0.1, as the device tests start it; skipped when not root).

- A/A across runs: a second optimize of the baseline recipe (a separate run), its stored timings refreshed by
  `edgeship bench --force` every 10 checks, every other block of 10 with a busy process on the other core
  (an ordinary shared CI runner); checked against the baseline file with the gate's defaults (interleaved).
- A/A on stored timings alone (`--remeasure 0`): what the gate says when it cannot re-time, and what the old
  within-run interval said on the same timings.
- Real variants (benchmarks/gate_models.py: 1x1 blocks, one and two more residual blocks), each its own
  optimize run, whose true slowdown is measured independently (a long interleaved timing, 10 s per variant);
  detection at a 5% threshold.
- The boundary: the gate's threshold set to a variant's own measured slowdown, so a fail rate of at most
  1 - confidence is what the gate promises.
Prints the figures; --out DIR writes DIR/gate.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.pipeline.gate.statistics import GateSettings, latency_verdict  # noqa: E402
from edgeship.targets.base import BenchRequest  # noqa: E402
from edgeship.targets.local import LocalTarget  # noqa: E402

VARIANTS = {"base": {}, "pointwise-4": {"pointwise": 4}, "one-more-block": {"extra_blocks": 1},
            "two-more-blocks": {"extra_blocks": 2}}
NOMINAL = {"5": "pointwise-4", "10": "one-more-block", "20": "two-more-blocks"}  # about 5, 10 and 20% slower


def recipe(args: dict, targets: list[dict]) -> dict:
    """Untrained models (epochs 0): the gate judges latency, and a trained model times the same."""
    return {"name": "gate", "seed": 0,
            "data": {"source": "digits", "image_size": 32, "channels": 1, "mean": [0.3], "std": [0.4]},
            "teacher": {"arch": "simple_cnn", "args": {"width": 4, "depth": 1}, "train": {"epochs": 0}},
            "student": {"arch": "python:benchmarks.gate_models:resnet", "args": args, "train": {"epochs": 0}},
            "distill": {"baseline": False}, "prune": {"enabled": False}, "quantize": {"enabled": False},
            "export": {"formats": ["onnx"]},
            "bench": {"warmup": 20, "min_runs": 300, "min_seconds": 1.0, "max_seconds": 10.0},
            "targets": targets}


def edgeship(*argv, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "edgeship.pipeline.cli", *map(str, argv)], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    if check and done.returncode != 0:
        sys.exit(f"edgeship {argv[0]} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done


def gate(candidate: Path, baseline: Path, threshold: float, *extra) -> tuple[list[dict], float]:
    """One `edgeship check`: its rows, and its wall seconds (start-up included)."""
    start = time.perf_counter()
    done = edgeship("check", candidate, "--baseline", baseline, "--max-latency-regression", f"{threshold:.4f}",
                    "--json", *extra, check=False)
    if done.returncode == 2:
        sys.exit(f"edgeship check: {done.stderr.strip()}")
    return json.loads(done.stdout)["rows"], time.perf_counter() - start


def onnx_path(run_dir: Path) -> Path:
    return next((run_dir / "stages").glob("onnx-fp32-*")) / "model.onnx"


def true_ratio(base: Path, variant: Path, seconds: float) -> float:
    """The variant's slowdown measured independently: a long interleaved timing, ratio of medians."""
    request = BenchRequest(eval_npz=None, warmup=50, min_runs=1000, min_seconds=seconds, max_seconds=seconds * 2,
                           baseline_model=base)
    result = LocalTarget().bench_many([(variant, "onnx")], request)[0]
    return float(np.median(result["timings_ms"]) / np.median(result["baseline_timings_ms"]))


class Busy:
    """A process spinning on one core while it is on: the neighbour of a shared CI runner."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def set(self, on: bool) -> None:
        if on and self.proc is None:
            self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        elif not on and self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def start_board(folder: Path):
    """The SSH stand-in board, or None (and why) where this machine cannot start one."""
    from tests.support.sshd import sshd_missing, start_sshd

    if os.geteuid() != 0 or sshd_missing():
        return None, sshd_missing() or "needs root"
    return start_sshd(folder), ""


def count(rows: list[dict], verdict: str) -> int:
    return sum(r["verdict"] == verdict for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-trials", type=int, default=100)
    parser.add_argument("--trials", type=int, default=20, help="checks per variant, per stored-timings case and "
                                                               "at the threshold")
    parser.add_argument("--threshold", type=float, default=0.05, help="the gate's threshold for A/A and detection")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgeship-gate-power-"))
    board, why_no_board = start_board(work / "sshd")
    busy = Busy()
    try:
        targets = [{"name": "local", "formats": ["onnx"]}]
        if board:
            targets.append(board.target("board", python=sys.executable, formats=["onnx"]))
        print(f"targets: {', '.join(t['name'] for t in targets)}"
              f"{'' if board else f' (no SSH stand-in board: {why_no_board})'}", flush=True)
        runs = {}
        for name, variant_args in [*VARIANTS.items(), ("base-again", {})]:
            path = work / f"{name}.yaml"
            path.write_text(yaml.safe_dump(recipe(variant_args, targets)))
            runs[name] = work / "runs" / name
            edgeship("optimize", path, "--run-dir", runs[name])
        baseline = work / "edge" / "edgeship-baseline.json"
        edgeship("baseline", "update", runs["base"], "--out", baseline)
        truth = {name: true_ratio(onnx_path(runs["base"]), onnx_path(runs[name]), 10.0) for name in VARIANTS}
        print("true ratios (10 s interleaved each): " + ", ".join(f"{n} {r:.3f}" for n, r in truth.items()),
              flush=True)
        seconds: list[float] = []

        # A/A across runs, with the gate's defaults.
        aa_rows = []
        for trial in range(args.aa_trials):
            if trial % 10 == 0:
                busy.set(trial // 10 % 2 == 1)
                edgeship("bench", runs["base-again"], "--force")
            rows, took = gate(runs["base-again"], baseline, args.threshold)
            aa_rows += rows
            seconds.append(took)
        busy.set(False)
        print(f"A/A across runs, {args.aa_trials} checks x {len(targets)} targets: {count(aa_rows, 'fail')} false "
              f"alarms, {count(aa_rows, 'inconclusive')} inconclusive; ratios "
              f"{min(r['latency']['ratio'] for r in aa_rows):.3f}-{max(r['latency']['ratio'] for r in aa_rows):.3f}",
              flush=True)

        # A/A on stored timings of separate runs only; the old within-run interval on the same timings.
        stored_rows, old_fails = [], 0
        base_rows = {r["target"]: r for r in json.loads(baseline.read_text())["results"]}
        settings = GateSettings(max_latency_regression=args.threshold)
        for trial in range(args.trials):
            busy.set(trial % 2 == 1)
            edgeship("bench", runs["base-again"], "--force")
            busy.set(False)
            rows, _ = gate(runs["base-again"], baseline, args.threshold, "--remeasure", "0")
            stored_rows += rows
            for row in json.loads((runs["base-again"] / "report.json").read_text())["results"]:
                old = latency_verdict(base_rows[row["target"]]["timings_ms"], row["timings_ms"], settings)
                old_fails += old["verdict"] == "fail"
        print(f"A/A on stored timings only, {args.trials} checks x {len(targets)} targets: "
              f"{count(stored_rows, 'fail')} false alarms, {count(stored_rows, 'inconclusive')} inconclusive "
              f"(the within-run interval alone: {old_fails} false alarms)", flush=True)

        # Real variants at the threshold, then the boundary.
        variants = []
        for name in list(VARIANTS)[1:]:
            rows = []
            for _ in range(args.trials):
                got, took = gate(runs[name], baseline, args.threshold)
                rows += got
                seconds.append(took)
            detected = count(rows, "fail") / len(rows)
            variants.append({"name": name, "true_ratio": truth[name], "detected": detected,
                             "inconclusive": count(rows, "inconclusive") / len(rows)})
            print(f"{name}: true ratio {truth[name]:.3f}; detected in {detected:.0%} of {len(rows)} rows, "
                  f"{count(rows, 'inconclusive')} inconclusive, {count(rows, 'pass')} pass", flush=True)
        edge = "one-more-block"
        rows = []
        for _ in range(args.trials):
            rows += gate(runs[edge], baseline, truth[edge] - 1.0)[0]
        at_threshold = count(rows, "fail") / len(rows)
        print(f"at the threshold ({edge}, gate at its true {truth[edge] - 1:.1%}): {at_threshold:.0%} of "
              f"{len(rows)} rows fail, {count(rows, 'pass')} pass, {count(rows, 'inconclusive')} inconclusive",
              flush=True)
    finally:
        busy.set(False)
        if board:
            board.stop()
    by_name = {v["name"]: v for v in variants}
    summary = {"aa_trials": args.aa_trials * len(targets), "false_alarms": count(aa_rows, "fail"),
               "inconclusive": count(aa_rows, "inconclusive"),
               "detection": {k: by_name[v]["detected"] for k, v in NOMINAL.items()},
               "seconds_per_check": sum(seconds) / len(seconds),
               "cross_run_aa": {"trials": len(stored_rows), "false_alarms": count(stored_rows, "fail"),
                                "inconclusive": count(stored_rows, "inconclusive"),
                                "within_run_interval_false_alarms": old_fails},
               "at_threshold_fail_rate": at_threshold, "variants": variants, "threshold": args.threshold,
               "targets": [t["name"] for t in targets]}
    print(f"\none check takes {summary['seconds_per_check']:.1f} s (wall, start-up included, {len(targets)} rows); "
          f"goals: <= 1 false alarm in 100 A/A, >= 95% detection of a 10% regression at 5%, <= 5% fails at the "
          f"threshold, <= 10 s per check")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gate.json").write_text(json.dumps(summary, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
