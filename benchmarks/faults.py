#!/usr/bin/env python3
"""Nothing lost under faults and bad input: the bad-input matrix, a second optimize on a locked run folder,
and kill -9 at random moments of `edgeship optimize` followed by a rerun that must reuse every finished stage
and give the same results as an uninterrupted run. Prints every case; --out DIR writes DIR/faults.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.support.bad_inputs import CASES, verdict  # noqa: E402
from tests.support.recipes import tiny_recipe_dict  # noqa: E402

CLI = [sys.executable, "-m", "edgeship.pipeline.cli"]


def optimize_cmd(recipe: Path, run_dir: Path) -> list[str]:
    return [*CLI, "optimize", str(recipe), "--run-dir", str(run_dir)]


def results_of(run_dir: Path) -> dict:
    """What must not change between an interrupted-then-resumed run and an uninterrupted one: stage keys and
    every accuracy (latency is measured afresh, so it differs)."""
    report = json.loads((run_dir / "report.json").read_text())
    stages = sorted((s["name"], s["key"]) for s in report["stages"])
    accuracy = sorted((r["stage"], r["target"], r["accuracy"]) for r in report["results"])
    return {"stages": stages, "accuracy": accuracy}


def finished_stages(run_dir: Path) -> set[str]:
    stages = run_dir / "stages"
    return {p.name for p in stages.iterdir() if (p / "artifact.json").is_file()} if stages.is_dir() else set()


def kill_trial(recipe: Path, run_dir: Path, delay: float, reference: dict) -> dict:
    proc = subprocess.Popen(optimize_cmd(recipe, run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT, start_new_session=True)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = finished_stages(run_dir)
    rerun = subprocess.run(optimize_cmd(recipe, run_dir), capture_output=True, text=True, cwd=ROOT)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rebuilt = {f"{s['name']}-{s['key']}" for s in manifest["stages"] if s["status"] == "ok"}
    lost = sorted(done_before & rebuilt)  # finished before the kill, yet built again
    identical = rerun.returncode in (0, 1) and results_of(run_dir) == reference
    return {"delay": round(delay, 1), "killed": killed, "finished_before": len(done_before),
            "rebuilt_finished": lost, "identical": identical, "exit": rerun.returncode}


def lock_case(recipe: Path, run_dir: Path) -> tuple[bool, str]:
    first = subprocess.Popen(optimize_cmd(recipe, run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=ROOT, start_new_session=True)
    time.sleep(8)  # well inside the first run
    second = subprocess.run(optimize_cmd(recipe, run_dir), capture_output=True, text=True, cwd=ROOT)
    first.wait()
    line = second.stderr.strip().splitlines()[-1] if second.stderr.strip() else ""
    ok = second.returncode == 2 and "another edgeship optimize is running" in line
    return ok, line or f"exit {second.returncode}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cases = []
    with tempfile.TemporaryDirectory(prefix="edgeship-faults-") as tmp:
        work = Path(tmp)
        for i, case in enumerate(CASES):
            folder = work / f"case{i}"
            folder.mkdir()
            ok, detail = verdict(case, folder)
            cases.append({"name": case.name, "outcome": "pass" if ok else "fail", "detail": detail})
            print(f"{'pass' if ok else 'FAIL'}  {case.name}: {detail}", flush=True)

        recipe = work / "tiny.yaml"
        recipe.write_text(yaml.safe_dump(tiny_recipe_dict()))
        start = time.monotonic()
        reference_dir = work / "reference"
        subprocess.run(optimize_cmd(recipe, reference_dir), check=True, capture_output=True, cwd=ROOT)
        total = time.monotonic() - start
        reference = results_of(reference_dir)
        print(f"uninterrupted run: {total:.0f} s", flush=True)

        ok, detail = lock_case(recipe, work / "locked")
        cases.append({"name": "second optimize on a run folder in use", "outcome": "pass" if ok else "fail",
                      "detail": detail})
        print(f"{'pass' if ok else 'FAIL'}  second optimize on a run folder in use: {detail}", flush=True)

        rng = random.Random(args.seed)
        trials = []
        for i in range(args.kill_trials):
            delay = rng.uniform(1.0, total * 0.95)  # anywhere from loading data to writing the report
            trial = kill_trial(recipe, work / f"kill{i}", delay, reference)
            trials.append(trial)
            ok = trial["identical"] and not trial["rebuilt_finished"]
            print(f"{'pass' if ok else 'FAIL'}  kill -9 after {trial['delay']:5.1f} s ({trial['finished_before']} "
                  f"stages done): rerun identical={trial['identical']}, finished stages rebuilt="
                  f"{trial['rebuilt_finished'] or 'none'}", flush=True)
            cases.append({"name": f"kill -9 at {trial['delay']} s", "outcome": "pass" if ok else "fail",
                          "detail": json.dumps(trial)})
    passed = sum(c["outcome"] == "pass" for c in cases)
    identical = sum(t["identical"] for t in trials)
    print(f"\n{passed}/{len(cases)} cases pass; kill trials: {identical}/{len(trials)} resumed runs identical to "
          f"the uninterrupted one")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "faults.json").write_text(json.dumps({"cases": cases, "kill_trials": len(trials),
                                                          "kill_identical": identical}, indent=2))
    return 0 if passed == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
