"""The run's speed decisions on paired timing: int8 against fp32 in each format, the pruned student against the
one it was pruned from. Both models of a pair are timed interleaved in one agent (the CI gate's measurement) on
every target with native latency that can do so, and judged by core/contracts/speed.py: a difference is called only
when its 95% interval excludes "equal within ship.equal_within". Cached like the bench, by both models' keys.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

from edgeship.pipeline.bench.run import BenchColumn, bench_columns, bench_request
from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.speed import SpeedComparison
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, Role, export
from edgeship.pipeline.core.contracts.targets import target_type
from edgeship.pipeline.core.infrastructure.atomic import write_json_atomic
from edgeship.pipeline.core.infrastructure.keys import code_key, content_key
from edgeship.pipeline.stages.context import Context
from edgeship.targets.registry import make_target


@dataclass(frozen=True)
class Pair:
    baseline: str   # stage names
    candidate: str


def decision_pairs(artifacts: dict[str, Artifact], ship_from: str) -> list[Pair]:
    """Each format's int8 file against its fp32 file, the fp32 student against the teacher in the same format
    (the speed-up claim), and the pruned student against its start."""
    ids = {name: a.id for name, a in artifacts.items()}
    pairs = [Pair(sid.fp32().name, name) for name, sid in ids.items()
             if sid.role is Role.QUANTIZED and sid.fp32().name in artifacts]
    pairs += [Pair(name, export(sid.format).name) for name, sid in ids.items()
              if sid.converted and sid.of_teacher and export(sid.format).name in artifacts]
    if PRUNED.name in artifacts and ship_from in artifacts:
        pairs.append(Pair(ship_from, PRUNED.name))
    return pairs


def _why_not(column: BenchColumn, fmt: str) -> str:
    kind = target_type(column.cfg.type)
    if not kind.native_latency:
        return f"{column.name} is emulated: its latency decides nothing"
    if not kind.interleaved_timing:
        return f"target {column.name} ({column.cfg.type}) cannot time two models interleaved"
    if not column.cfg.measures(fmt):
        return f"{fmt} is not measured on {column.name}"
    return ""


def compare_pairs(artifacts: dict[str, Artifact], pairs: list[Pair], ctx: Context,
                  bench: dict[tuple[str, str], AgentResult], force: bool = False) -> list[SpeedComparison]:
    """One comparison per (pair, bench column); unmeasured ones say why. `bench`: the bench results by (stage,
    column): a pair is timed only where both of its files ran."""
    recipe = ctx.recipe
    equal_within = recipe.ship.equal_within
    runs = recipe.bench.paired_min_runs
    out = []
    for column in bench_columns(recipe):
        for pair in pairs:
            base, cand = artifacts[pair.baseline], artifacts[pair.candidate]
            why = "bench.paired_min_runs is 0" if not runs else _why_not(column, cand.format)
            failed = [p for p in (pair.baseline, pair.candidate)
                      if not bench.get((p, column.name), AgentResult.failed("not benched")).ok]
            why = why or (f"{failed[0]} did not run on {column.name}" if failed else "")
            if why:
                out.append(SpeedComparison.unmeasured(pair.baseline, pair.candidate, column.name, why))
                continue
            result = _timed_pair(base, cand, column, ctx, force)
            if not result.paired:
                out.append(SpeedComparison.unmeasured(pair.baseline, pair.candidate, column.name,
                                                      f"paired timing failed: {result.error}"))
                continue
            out.append(SpeedComparison.judge(pair.baseline, pair.candidate, column.name,
                                             result.baseline_timings_ms, result.timings_ms, equal_within))
    return out


def _timed_pair(base: Artifact, cand: Artifact, column: BenchColumn, ctx: Context, force: bool) -> AgentResult:
    recipe = ctx.recipe
    key = content_key("paired", base.key, cand.key, column.cfg.model_dump(mode="json"), column.threads,
                      recipe.bench.model_dump(mode="json"), code_key("targets"))
    path = ctx.run.root / "bench" / column.name / "paired" / f"{cand.stage}-vs-{base.stage}.json"
    cached = AgentResult.parse(json.loads(path.read_text())) if path.is_file() else None
    if cached and cached.key == key and cached.ok and not force:
        return cached
    request = replace(bench_request(recipe.bench, None), threads=column.threads,
                      timeout=column.cfg.timeout or recipe.bench.timeout,
                      min_runs=max(recipe.bench.min_runs, recipe.bench.paired_min_runs), baseline_model=base.path,
                      profile=0, batch_sizes=(), throughput=False)
    target = make_target(column.cfg)
    target.name = column.name
    result = AgentResult.parse({**target.bench_many([(cand.path, cand.format)], request)[0], "key": key})
    write_json_atomic(path, result.to_dict())
    return result
