"""Measure a report row's artifact again on its target, from the run folder that made it (for the gate)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipeline.bench.run import bench_columns, bench_request
from pipeline.config.recipe import load_recipe
from pipeline.core.artifact import Artifact
from pipeline.core.targets import target_type
from targets.registry import make_target

MIN_RUNS = 300


def _artifact(run_dir: Path | None, row: dict) -> Artifact | None:
    if run_dir is None:
        return None
    folder = Path(run_dir) / "stages" / f"{row.get('stage')}-{row.get('artifact_key')}"
    return Artifact.read(folder) if (folder / "artifact.json").is_file() else None


def _column(run_dir: Path, row: dict):
    """The run's bench column (target and thread count) that produced the row, if the recipe still has it."""
    recipe = load_recipe(Path(run_dir) / "recipe.yaml")
    return recipe, next((c for c in bench_columns(recipe) if c.name == row["target"]), None)


def measure_row(run_dir: Path | None, row: dict, baseline: Artifact | None = None) -> dict | None:
    """The agent's result for the row's artifact on its target (with `baseline` timed interleaved beside it),
    or None when the run folder no longer has what it takes."""
    artifact = _artifact(run_dir, row)
    if artifact is None:
        return None
    recipe, column = _column(run_dir, row)
    if column is None:
        return None
    # At least a second and 300 runs, whatever the recipe's bench asked: a row is measured again because
    # its samples were too few or too noisy.
    request = replace(bench_request(recipe.bench, None), threads=column.threads,
                      timeout=column.cfg.timeout or recipe.bench.timeout,
                      min_runs=max(recipe.bench.min_runs, MIN_RUNS), min_seconds=max(recipe.bench.min_seconds, 1.0),
                      max_seconds=max(recipe.bench.max_seconds, 10.0),
                      baseline_model=baseline.path if baseline else None)
    result = make_target(column.cfg).bench_many([(artifact.path, artifact.format)], request)[0]
    return result if result.get("status") == "ok" else None


def remeasurer(baseline_dir: Path | None, baseline_rows: list[dict], current_dir: Path, current_rows: list[dict]):
    """A callback for check.compare: baseline then current, back to back, so both see the same machine."""
    from pipeline.gate.compare import row_key

    base_by_key = {row_key(r): r for r in baseline_rows}
    cur_by_key = {row_key(r): r for r in current_rows}

    def again(key: tuple) -> tuple[list[float], list[float], bool]:
        """(baseline timings, current timings, paired): interleaved in one agent when both models are
        here and the target type can time two models side by side; otherwise each measured afresh (the baseline
        only if its run folder has it)."""
        base_row, cur_row = base_by_key[key], cur_by_key[key]
        baseline = _artifact(baseline_dir, base_row)
        column = _column(current_dir, cur_row)[1]
        if baseline is not None and column is not None and target_type(column.cfg.type).interleaved_timing:
            pair = measure_row(current_dir, cur_row, baseline)
            if pair:
                return pair["baseline_timings_ms"], pair["timings_ms"], True
        base = measure_row(baseline_dir, base_row) if baseline is not None else None
        cur = measure_row(current_dir, cur_row)
        return (base or {}).get("timings_ms") or [], (cur or {}).get("timings_ms") or [], False

    return again
