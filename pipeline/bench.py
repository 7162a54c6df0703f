"""bench: every artifact on every target, cached by (artifact key, target, bench settings, eval set)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.artifact import Artifact
from pipeline.context import Context
from pipeline.progress import progress_bar
from pipeline.runfolder import content_key, write_json_atomic
from targets.base import BenchRequest
from targets.registry import make_target


def write_eval_set(ctx: Context) -> Path:
    """The held-out test split, preprocessed, as the agent reads it."""
    path = ctx.run.root / "data" / f"eval-{ctx.data.key}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez(tmp, inputs=ctx.data.inputs(ctx.data.x_test), labels=ctx.data.y_test)
        tmp.replace(path)
    return path


def bench_request(ctx: Context, eval_npz: Path | None) -> BenchRequest:
    b = ctx.recipe.bench
    return BenchRequest(eval_npz=eval_npz, threads=b.threads, warmup=b.warmup, min_runs=b.min_runs,
                        min_seconds=b.min_seconds, max_seconds=b.max_seconds, timeout=b.timeout)


def bench_all(artifacts: list[Artifact], ctx: Context, force: bool = False) -> dict[tuple[str, str], dict]:
    """Results keyed by (artifact stage, target name); a failing target is a failed row, never an abort."""
    eval_npz = write_eval_set(ctx)
    request = bench_request(ctx, eval_npz)
    results = {}
    with progress_bar(ctx.console) as bar:
        task = bar.add_task("bench", total=len(artifacts) * len(ctx.recipe.targets), info="")
        for target_cfg in ctx.recipe.targets:
            target = make_target(target_cfg)
            for artifact in artifacts:
                bar.update(task, info=f"{artifact.stage} on {target.name}")
                results[(artifact.stage, target.name)] = _bench_one(artifact, target, target_cfg, request, ctx, force)
                bar.advance(task)
    return results


def _bench_one(artifact: Artifact, target, target_cfg, request: BenchRequest, ctx: Context, force: bool) -> dict:
    key = content_key("bench", artifact.key, target_cfg.model_dump(mode="json"),
                      ctx.recipe.bench.model_dump(mode="json"), ctx.data.key)
    path = ctx.run.root / "bench" / target.name / f"{artifact.stage}.json"
    cached = json.loads(path.read_text()) if path.is_file() else None
    if cached and cached.get("key") == key and cached.get("status") == "ok" and not force:
        return cached
    result = target.bench(artifact.path, artifact.format, request)
    result["key"] = key
    write_json_atomic(path, result)
    if result.get("status") != "ok":
        ctx.say(f"  [red]bench {artifact.stage} on {target.name} failed[/red]: {result.get('error')}")
    return result
