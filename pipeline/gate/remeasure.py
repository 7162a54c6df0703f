"""Time a row's baseline and candidate models again, interleaved in one agent on the row's target (the gate)."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from edgeship.pipeline.bench.run import bench_columns, bench_request
from edgeship.pipeline.config.recipe import load_recipe
from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.contracts.results import ResultRow
from edgeship.pipeline.core.contracts.targets import target_type
from edgeship.pipeline.gate.baseline_models import BaselineModel, baseline_model, stage_artifact
from edgeship.pipeline.gate.compare import row_key
from edgeship.targets.registry import make_target

MIN_RUNS = 300


@lru_cache(maxsize=8)
def _recipe(run_dir: Path):
    """The run's recipe, read once per check (every row and every look asks)."""
    return load_recipe(Path(run_dir) / "recipe.yaml")


def _column(run_dir: Path, row: ResultRow):
    """The run's bench column (target and thread count) that produced the row, if the recipe still has it."""
    recipe = _recipe(Path(run_dir))
    return recipe, next((c for c in bench_columns(recipe) if c.name == row.target), None)


def measure_row(run_dir: Path, row: ResultRow, baseline: Path | None = None) -> AgentResult:
    """The agent's result for the row's artifact on its target, with `baseline` timed interleaved beside it."""
    artifact = stage_artifact(run_dir, row)
    if artifact is None:
        return AgentResult.failed(f"{run_dir} no longer has {row.stage}")
    recipe, column = _column(run_dir, row)
    if column is None:
        return AgentResult.failed(f"the recipe in {run_dir} no longer has target {row.target}")
    # At least a second and 300 runs, whatever the recipe's bench asked: a verdict needs them.
    request = replace(bench_request(recipe.bench, None), threads=column.threads,
                      timeout=column.cfg.timeout or recipe.bench.timeout,
                      min_runs=max(recipe.bench.min_runs, MIN_RUNS), min_seconds=max(recipe.bench.min_seconds, 1.0),
                      max_seconds=max(recipe.bench.max_seconds, 10.0), baseline_model=baseline, profile=0,
                      batch_sizes=(), throughput=False)
    return AgentResult.parse(make_target(column.cfg).bench_many([(artifact.path, artifact.format)], request)[0])


class Retimer:
    """For check.compare: why a row cannot be timed interleaved (an empty string when it can), and the paired
    timings of one more look."""

    def __init__(self, baseline_source: Path, baseline_rows: list[ResultRow], current_dir: Path | None):
        self.source, self.current_dir = baseline_source, current_dir
        _recipe.cache_clear()  # one check reads each recipe once, and never an earlier check's copy
        self.base_rows = {row_key(r): r for r in baseline_rows}
        self.models: dict[tuple, BaselineModel] = {}

    def model(self, key: tuple) -> BaselineModel:
        if key not in self.models:
            self.models[key] = baseline_model(self.source, self.base_rows[key])
        return self.models[key]

    def why_not(self, key: tuple, current_row: ResultRow) -> str:
        if self.current_dir is None:
            return "CURRENT is a results file: timing both models interleaved needs its run folder"
        model = self.model(key)
        if model.path is None:
            return model.missing
        column = _column(self.current_dir, current_row)[1]
        if column is None:
            return f"the recipe in {self.current_dir} no longer has target {current_row.target}"
        if not target_type(column.cfg.type).interleaved_timing:
            return f"target {column.name} ({column.cfg.type}) cannot time two models interleaved"
        return ""

    def pair(self, key: tuple, current_row: ResultRow) -> tuple[list[float], list[float]] | str:
        """(baseline timings, current timings) of one interleaved look, or why the look failed."""
        result = measure_row(self.current_dir, current_row, self.model(key).path)
        if not result.paired:
            return f"interleaved timing failed: {result.error or 'no baseline timings came back'}"
        return result.baseline_timings_ms, result.timings_ms
