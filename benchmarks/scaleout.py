#!/usr/bin/env python3
"""Distillation on N processes (torchrun + DistributedDataParallel, gloo on this CPU): `edgeship distill
RECIPE --nproc N` for each N on a fresh run folder, side by side in one run. Prints each training stage's
seconds per epoch and test accuracy, the wall time and the speed-up over one process. The recipe's batch
size is the global batch in every case and BatchNorm statistics span the ranks, so the accuracies should agree
up to what float rounding moves."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("teacher", "student-scratch", "student-kd")


def distill(recipe: Path, run_dir: Path, nproc: int) -> tuple[float, dict[str, dict]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edgeship.pipeline.cli", "distill", str(recipe),
                           "--run-dir", str(run_dir), "--nproc", str(nproc)], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"--nproc {nproc} failed: {done.stderr.strip().splitlines()[-1]}")
    metrics = {p.name.rsplit("-", 1)[0]: json.loads((p / "artifact.json").read_text())["metrics"]
               for p in (run_dir / "stages").iterdir()}
    return seconds, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default=str(ROOT / "examples" / "digits.yaml"))
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", help="keep the run folders here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        runs = {n: distill(Path(args.recipe), out / f"nproc{n}", n) for n in args.nproc}
    base = runs[args.nproc[0]]
    print(f"recipe {args.recipe}; {len(args.nproc)} runs side by side; speed-up = s/epoch of "
          f"--nproc {args.nproc[0]} / s/epoch")
    print(f"{'stage':<16}" + "".join(f"   nproc {n}: s/epoch  test %  speed-up" for n in args.nproc))
    for stage in STAGES:
        if stage not in base[1]:
            continue
        cells = []
        for n in args.nproc:
            m = runs[n][1][stage]
            ratio = base[1][stage]["seconds_per_epoch"] / max(m["seconds_per_epoch"], 1e-9)
            cells.append(f"   {m['world_size']:>8} {m['seconds_per_epoch']:>9.2f} {m['test_accuracy']:>7.2f} "
                         f"{ratio:>8.2f}x")
        print(f"{stage:<16}" + "".join(cells))
    walls = "  ".join(f"--nproc {n}: {runs[n][0]:.0f} s" for n in args.nproc)
    worst = max(abs(runs[n][1][s]["test_accuracy"] - base[1][s]["test_accuracy"])
                for n in args.nproc for s in STAGES if s in base[1])
    print(f"wall time (incl. start-up): {walls}; largest test-accuracy difference to --nproc "
          f"{args.nproc[0]}: {worst:.2f} points")


if __name__ == "__main__":
    main()
