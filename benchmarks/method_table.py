"""Shared by the distillation benchmarks: one method over several seeds, and the table of methods against scratch."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np


def chosen_methods(spec: str, known) -> list[str] | None:
    """--methods as a list with scratch first (the baseline every gain is against); None after printing the
    unknown names."""
    methods = spec.split(",")
    unknown = set(methods) - set(known)
    if unknown:
        print(f"unknown method(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return None
    return methods if "scratch" in methods else ["scratch", *methods]


def seeded_runs(name: str, seeds: int, run_one: Callable[[int], tuple[float, float]], unit: str = "") -> dict:
    """run_one(seed) -> (score %, seconds per epoch); a printed line per seed, then the method's row."""
    scores, seconds = [], []
    for seed in range(seeds):
        score, per_epoch = run_one(seed)
        scores.append(score)
        seconds.append(per_epoch)
        print(f"  {name} seed {seed}: {unit}{score:.2f}% ({per_epoch:.1f} s/epoch)", flush=True)
    return {"method": name, "mean": float(np.mean(scores)), "std": float(np.std(scores)), "seeds": scores,
            "seconds_per_epoch": float(np.mean(seconds))}


def print_gains(rows: list[dict], metric: str) -> dict:
    """Each row's gain over the first (scratch), the table, and the best method's row."""
    for row in rows:
        row["gain"] = row["mean"] - rows[0]["mean"]
    print()
    print(f"{'method':<10}{f'{metric} (mean ± std)':>24}{'gain':>9}{'s/epoch':>10}")
    for row in rows:
        print(f"{row['method']:<10}{row['mean']:>15.2f} ± {row['std']:<6.2f}{row['gain']:>+9.2f}"
              f"{row['seconds_per_epoch']:>10.1f}")
    return max(rows[1:], key=lambda r: r["gain"]) if len(rows) > 1 else rows[0]


def print_over_kd(rows: list[dict]) -> None:
    """What each X+kd row adds over KD alone: the method's own contribution in a recipe's default setting."""
    kd = next((r for r in rows if r["method"] == "kd"), None)
    beside = [r for r in rows if r["method"].endswith("+kd")]
    if kd and beside:
        print("beside KD, over KD alone: " + ", ".join(f"{r['method'][:-3]} {r['mean'] - kd['mean']:+.2f}"
                                                      for r in beside))


def print_below_scratch(rows: list[dict]) -> list[str]:
    """The methods whose mean falls below scratch by more than the larger of the two seed spreads (the goal:
    none); printed, and returned for the JSON."""
    scratch = rows[0]
    below = [r["method"] for r in rows[1:]
             if r["mean"] < scratch["mean"] - max(scratch["std"], r["std"])]
    print("below scratch by more than the seed spread: " + (", ".join(below) if below else "none"), flush=True)
    return below


def cached_teacher(model, folder: Path, train_it: Callable[[], None]) -> Path:
    """The teacher's weights from folder/teacher.pt (the folder named by its content key), or trained by
    `train_it()` and saved there; its path."""
    import torch

    path = folder / "teacher.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        print(f"teacher: cached in {folder}", flush=True)
        return path
    start = time.perf_counter()
    train_it()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    print(f"teacher: trained in {time.perf_counter() - start:.0f} s, cached in {folder}", flush=True)
    return path
