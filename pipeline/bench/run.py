"""bench: every artifact on every target, cached by (artifact key, target, threads, bench settings, eval set).

Targets run concurrently, one worker each, so a slow or hanging board does not hold up the others. Within one
target, the thread counts of a sweep and the artifacts run one after another. A local target shares this
machine's cores with the workers that drive emulated targets: compare its latency only with itself.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.core.infrastructure.atomic import write_json_atomic
from edgeship.pipeline.core.infrastructure.keys import code_key, content_key
from edgeship.pipeline.core.infrastructure.progress import progress_bar
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.eval_set import write_eval_set
from edgeship.targets.agent import load_eval_set
from edgeship.targets.base import BenchRequest
from edgeship.targets.registry import make_target


@dataclass(frozen=True)
class BenchColumn:
    """One column group of the report: a target at one thread count."""
    name: str
    cfg: object
    threads: int


def bench_columns(recipe) -> list[BenchColumn]:
    columns = []
    for cfg in recipe.targets:
        counts = cfg.threads or [recipe.bench.threads]
        for threads in counts:
            name = cfg.name if len(counts) == 1 else f"{cfg.name}@{threads}t"
            columns.append(BenchColumn(name, cfg, threads))
    return columns


def bench_request(bench_cfg, eval_npz: Path | None) -> BenchRequest:
    b = bench_cfg
    return BenchRequest(eval_npz=eval_npz, threads=b.threads, warmup=b.warmup, min_runs=b.min_runs,
                        min_seconds=b.min_seconds, max_seconds=b.max_seconds, timeout=b.timeout,
                        profile=b.profile_runs, batch_sizes=tuple(n for n in b.batch_sizes if n != 1),
                        throughput=b.throughput)


def bench_all(artifacts: list[Artifact], ctx: Context, force: bool = False) -> dict[tuple[str, str], AgentResult]:
    """Results keyed by (artifact stage, column name); a failing target is failed rows, never an abort."""
    eval_npz = write_eval_set(ctx)
    request = bench_request(ctx.recipe.bench, eval_npz)
    columns = bench_columns(ctx.recipe)
    by_target: dict[str, list[BenchColumn]] = {}
    for column in columns:
        by_target.setdefault(column.cfg.name, []).append(column)
    results: dict[tuple[str, str], AgentResult] = {}
    with progress_bar(ctx.console) as bar:
        task = bar.add_task("bench", total=len(artifacts) * len(columns), info="")

        def one_target(target_columns: list[BenchColumn]) -> None:
            for column in target_columns:
                for stage, result in _bench_column(artifacts, column, request, ctx, force).items():
                    results[(stage, column.name)] = result
                bar.update(task, advance=len(artifacts), info=f"{column.name} done")

        with ThreadPoolExecutor(max_workers=len(by_target)) as pool:
            for future in [pool.submit(one_target, cols) for cols in by_target.values()]:
                future.result()
    return results


def host_scoring(ctx: Context, eval_npz: Path | None):
    """result -> result, for a task whose metric the device cannot compute: it gets it here, from what the agent
    sent back (detection: its decoded boxes -> COCO mAP), and the raw detections do not stay in the result. None
    for the other tasks. The eval set's targets are read once."""
    task = task_named(ctx.recipe.task)
    if task.score_on_host is None or eval_npz is None:
        return None
    _, targets, _ = load_eval_set(str(eval_npz))

    def scored(result: AgentResult) -> AgentResult:
        if not result.ok:
            return result
        extra = dict(result.extra)
        scores = task.score_on_host(extra, targets, ctx.recipe.data.image_size, ctx.data.num_classes)
        extra.pop("detections", None)
        return replace(result, accuracy=scores["accuracy"], extra={**extra, "task_scores": scores})
    return scored


def _bench_column(artifacts: list[Artifact], column: BenchColumn, request: BenchRequest, ctx: Context,
                  force: bool) -> dict[str, AgentResult]:
    cfg = column.cfg
    request = replace(request, threads=column.threads, timeout=cfg.timeout or request.timeout)
    out: dict[str, AgentResult] = {}
    pending: list[tuple[Artifact, str, Path]] = []
    for artifact in (a for a in artifacts if cfg.measures(a.format)):
        key = content_key("bench", artifact.key, cfg.model_dump(mode="json"), column.threads,
                          ctx.recipe.bench.model_dump(mode="json"), ctx.data.key, code_key("targets"))
        path = ctx.run.root / "bench" / column.name / f"{artifact.stage}.json"
        cached = AgentResult.parse(json.loads(path.read_text())) if path.is_file() else None
        if cached and cached.key == key and cached.ok and not force:
            out[artifact.stage] = cached
        else:
            pending.append((artifact, key, path))
    if not pending:
        return out
    target = make_target(cfg)
    target.name = column.name
    fresh = target.bench_many([(a.path, a.format) for a, _, _ in pending], request)
    score = host_scoring(ctx, request.eval_npz)
    for (artifact, key, path), raw in zip(pending, fresh):
        result = AgentResult.parse({**raw, "key": key})
        result = score(result) if score else result
        write_json_atomic(path, result.to_dict())
        if not result.ok:
            ctx.say(f"  [red]bench {artifact.stage} on {column.name} failed[/red]: {result.error}")
        out[artifact.stage] = result
    return out
