"""Latency of candidate models on the budget's target, measured, never modelled: each candidate is exported (and
made int8 when the recipe quantizes, prediction layers float as the quantize stage keeps them) as the shipped file
would be, and a step's candidates are timed by one agent run on the target, at the thread count the search runs
in."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from torch import nn

from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.contracts.formats import format_named, model_files
from edgeship.pipeline.core.contracts.speed import latency_interval
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.core.infrastructure.logs import output_to
from edgeship.pipeline.formats.int8_budget import output_module_names, quantize_within_budget
from edgeship.pipeline.models.torch_artifact import example_input
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.eval_set import write_eval_set
from edgeship.targets.base import BenchRequest
from edgeship.targets.registry import make_target


@dataclass(frozen=True)
class Measured:
    """One candidate on the budget's target: the budget's metric with its 95% interval, file size, memory."""
    latency_ms: float
    low_ms: float
    high_ms: float
    size_kb: float
    peak_rss_mb: float | None
    platform: dict | None = field(default=None, compare=False)  # the target as the agent saw it (its identity)
    runtime: str | None = field(default=None, compare=False)
    post_ms: float | None = None  # the task's post-processing on the device (p50), included in the latency

    @property
    def inference_ms(self) -> float:
        """The model's own latency: what pruning changes (a detector's decoding depends on its boxes, not its
        channels, and its 20-image median is noisier than the model's timings)."""
        return self.latency_ms - (self.post_ms or 0.0)

    def meets(self, budget) -> bool:
        """Within every constraint of `budget`, latency by the upper end of its interval."""
        return ((budget.latency_ms is None or self.high_ms <= budget.latency_ms)
                and (budget.size_kb is None or self.size_kb <= budget.size_kb)
                and (budget.peak_rss_mb is None or (self.peak_rss_mb or 0.0) <= budget.peak_rss_mb))

    def said(self, metric: str) -> str:
        post = f" with {self.post_ms:.3f} ms post-processing" if self.post_ms else ""
        return (f"{self.latency_ms:.3f} ms [{self.low_ms:.3f}, {self.high_ms:.3f}] {metric}{post}, "
                f"{self.size_kb:.0f} KB")


def budget_target(recipe):
    """(the budget's target entry, the thread counts the search may run it at: budget.threads, else every count the
    target is benched at, and the search keeps the fastest)."""
    budget = recipe.budget
    cfg = next(t for t in recipe.targets if t.name == (budget.target or recipe.targets[0].name))
    return cfg, [budget.threads] if budget.threads else list(cfg.threads or [recipe.bench.threads])


def budget_formats(recipe) -> list[str]:
    """The formats the search may ship in: budget.format, or every exported one (the fastest is chosen)."""
    return [recipe.budget.format] if recipe.budget.format else list(recipe.export.formats)


def _exported(model: nn.Module, ctx: Context, folder: Path, fmt: str, example=None) -> Path:
    backend = format_named(fmt)
    folder.mkdir(parents=True, exist_ok=True)
    example = example_input(ctx.data.preprocessing) if example is None else example
    with output_to(folder / "log.txt"):
        return folder / backend.export(model.eval(), example, folder, ctx.recipe.export.opset)


def int8_float_layers(model: nn.Module, ctx: Context, folder: Path, calibration, fmt: str) -> list[str]:
    """The layers the quantize stage's accuracy budget would keep float in this model's int8 file (its
    prediction layers, and the most harmful ones while the budget needs them): candidates keep the same ones
    float, so the search times the file that will ship, not a faster one (a first convolution kept float made a
    32 px CNN 0.076 ms where all-int8 measured 0.050)."""
    recipe = ctx.recipe
    if not recipe.quantize.enabled:
        return []
    backend = format_named(fmt)
    qcfg = recipe.quantize
    task = task_named(recipe.task)
    val_inputs, val_targets = ctx.data.val.sample(qcfg.validation_samples).inputs_and_targets()
    score = partial(task.score_on_host, num_classes=ctx.data.num_classes) if task.score_on_host else None
    keep = qcfg.float_outputs == "yes" or (qcfg.float_outputs == "auto" and task.float_outputs)
    path = _exported(model, ctx, folder, fmt)
    with output_to(folder / "log.txt"):
        outcome = quantize_within_budget(backend, fmt, path, model, example_input(ctx.data.preprocessing),
                                         calibration, folder, qcfg, val_inputs, val_targets, task.device_metric,
                                         score, output_module_names(model) if keep else [])
    return list(outcome.float_layers)


def model_file(model: nn.Module, ctx: Context, folder: Path, calibration, float_layers: list[str], fmt: str,
               example=None, int8: bool | None = None) -> Path:
    """`model` in format `fmt`, int8 (`float_layers` kept float) when the recipe quantizes or `int8` says."""
    recipe = ctx.recipe
    example = example_input(ctx.data.preprocessing) if example is None else example
    path = _exported(model, ctx, folder, fmt, example)
    if not (recipe.quantize.enabled if int8 is None else int8):
        return path
    backend = format_named(fmt)
    with output_to(folder / "log.txt"):
        return folder / backend.quantize(path, model, example, calibration, folder, recipe.quantize, float_layers,
                                         "int8")


def measure(models: list[nn.Module], ctx: Context, folder: Path, calibration, float_layers: list[str], fmt: str,
            threads: int, int8: bool | None = None) -> list[Measured | str]:
    """Each model's figures in `fmt` (int8 with `float_layers` kept float, unless `int8` is False) at `threads`,
    or why it could not be measured."""
    return bench_files([(model_file(model, ctx, folder / f"candidate-{i}", calibration, float_layers, fmt,
                                    int8=int8), fmt) for i, model in enumerate(models)], ctx, threads)


POST_IMAGES = 20  # images whose post-processing (a detector's box decoding) is timed with each whole model


def bench_files(files: list[tuple[Path, str]], ctx: Context, threads: int, min_seconds: float | None = None,
                whole: bool = True) -> list[Measured | str]:
    """One agent run on the budget's target times every (file, format) at `threads`. A `whole` model
    is also run on POST_IMAGES test images: where the task's device metric post-processes (a detector's decoding
    and NMS), that time is part of its latency: the budget bounds what the device spends per image."""
    recipe = ctx.recipe
    cfg = budget_target(recipe)[0]
    b = recipe.bench
    request = BenchRequest(eval_npz=write_eval_set(ctx, POST_IMAGES) if whole else None, threads=threads,
                           warmup=b.warmup, min_runs=b.min_runs,
                           min_seconds=b.min_seconds if min_seconds is None else min_seconds,
                           max_seconds=b.max_seconds, timeout=cfg.timeout or b.timeout)
    out: list[Measured | str] = []
    for (path, fmt), raw in zip(files, make_target(cfg).bench_many(files, request)):
        result = AgentResult.parse(raw)
        interval = latency_interval(result.timings_ms or [], recipe.budget.metric) if result.ok else None
        if interval is None:
            out.append(result.error or f"too few timings on {cfg.name} for an interval")
            continue
        size = sum(f.stat().st_size for f in model_files(path, fmt)) / 1024
        post_ms = result.p50(result.postprocess_ms) if result.postprocess_ms else None
        out.append(Measured(*(ms + (post_ms or 0.0) for ms in interval), size_kb=size,
                            peak_rss_mb=result.peak_rss_mb, platform=result.platform,
                            runtime=f"{result.runtime} {result.runtime_version}", post_ms=post_ms))
    return out


LAYER_SECONDS = 0.3  # a layer alone is microseconds: 0.3 s gives hundreds of timings, plenty for its median


def time_layers(shapes, ctx: Context, folder: Path, fmt: str, threads: int) -> list[float | None]:
    """Each layer shape (latency_table.LayerShape) alone, in format `fmt` and its own precision, timed in one
    agent run at `threads`: its latency by the budget's metric, None where it could not be made or timed."""
    import numpy as np
    import torch

    from edgeship.calibration.calibration_set import CalibrationSet

    made: dict[int, Path] = {}
    for i, shape in enumerate(shapes):
        example = shape.example()
        inputs = torch.randn(16, *example.shape[1:]).numpy()  # a layer's latency does not depend on its data
        calibration = CalibrationSet(inputs, np.arange(len(inputs)), f"layer-{i}")
        try:
            made[i] = model_file(shape.module().eval(), ctx, folder / f"layer-{i}", calibration, [], fmt,
                                 example, int8=shape.int8)
        except Exception:  # a shape the converter refuses alone: its candidates are timed whole instead
            continue
    files = [(path, fmt) for path in made.values()]
    timed = dict(zip(made, bench_files(files, ctx, threads, min_seconds=LAYER_SECONDS, whole=False))) if made else {}
    return [timed[i].latency_ms if isinstance(timed.get(i), Measured) else None for i in range(len(shapes))]
