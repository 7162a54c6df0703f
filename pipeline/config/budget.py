"""The recipe's `budget:` section (and `edgeship optimize --latency-budget 8ms --target NAME`): what the shipped
model must meet on one native target, and how long the search that finds it may take
(pipeline/stages/budget_search.py)."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from edgeship.pipeline.config.section import Section

MEASURABLE_MS = 0.01  # below this, a budget is under the agent's timing resolution: nothing could meet it
MIN_FILE_KB = 1.0     # no format writes a model file smaller than this


class BudgetConfig(Section):
    # Latency of one image at batch 1 on `target` that the shipped model's 95% interval must stay within.
    latency_ms: float | None = Field(None, gt=0.0)
    metric: Literal["p50", "p90"] = "p50"  # which latency the budget bounds
    target: str | None = None  # a target of the recipe (native: an emulator's latency decides nothing); none: first
    # Runtime threads on the target; none: the search times each count the target is benched at (its `threads`,
    # else bench.threads) and goes on at the fastest, and ship takes the most accurate file within the budget at any.
    threads: int | None = Field(None, ge=1, le=256)
    size_kb: float | None = Field(None, gt=0.0)  # the shipped model file (with companions) at most this
    peak_rss_mb: float | None = Field(None, gt=0.0)  # the agent's peak resident memory running it, at most this
    # The format whose latency drives the search; none: every one of export.formats is timed (int8 and fp32 in
    # one agent run) and the search goes on in the fastest.
    format: str | None = None
    max_search_seconds: float = Field(1800.0, gt=0.0)  # the search stops here and keeps its best so far
    # Each step prunes the one layer group that costs least accuracy for this share of the student's starting
    # latency (NetAdapt's per-step reduction; each group's channel count sized by the layer table), then a
    # short fine-tune. Larger where the budget is further than the time left allows in such steps; the last
    # step aims at the budget itself.
    step_reduction: float = Field(0.1, gt=0.0, lt=1.0)
    # Without layer tables (lookup: false), a step removes this share of one group's channels instead.
    step_share: float = Field(0.25, gt=0.0, lt=1.0)
    candidates: int = Field(8, ge=1)  # groups tried per step: the ones with the most MACs
    step_epochs: int = Field(1, ge=1)  # the short KD fine-tune after each step, in epochs
    calibration_images: int = Field(256, ge=16)  # BatchNorm re-estimation before each candidate is scored
    # Validation images each candidate is scored on (stratified, fixed seed; none: all of them). Candidates are
    # compared with each other, and every step's and the winner's accuracy is on the whole validation split.
    score_images: int | None = Field(1000, ge=10)
    # Candidates ranked by per-layer latency tables of the target (each layer shape timed alone, once per target,
    # cached); the `timed` best are then timed whole and the step picks among those. false: every candidate whole.
    lookup: bool = True
    timed: int = Field(2, ge=1)  # candidates timed whole each step, the best by the layer table
    # The winner's architecture is also trained from a fresh initialization with the student's own training and
    # KD, for the student's epochs plus prune.finetune's (Liu et al., ICLR 2019, Scratch-B); the one more accurate
    # on validation ships. Skipped for pretrained students.
    retrain: bool = True

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in (self.latency_ms, self.size_kb, self.peak_rss_mb))


def check_budget(recipe) -> None:
    """ValueErrors naming the budget field: a target the recipe lacks or that is emulated, a format not
    exported, a budget no file could meet."""
    from edgeship.pipeline.core.contracts.speed import MIN_SAMPLES
    from edgeship.pipeline.core.contracts.targets import target_type

    budget = recipe.budget
    if not budget.enabled:
        return
    names = [t.name for t in recipe.targets]
    if budget.target is not None and budget.target not in names:
        raise ValueError(f"budget.target {budget.target!r} is not a target of the recipe ({', '.join(names)})")
    cfg = next(t for t in recipe.targets if t.name == (budget.target or names[0]))
    if not target_type(cfg.type).native_latency:
        raise ValueError(f"budget.target {cfg.name!r} is emulated ({cfg.type}): an emulator's latency cannot "
                         "decide a latency budget; name a native target")
    threads = budget.threads  # none: every count the target is benched at, and the search keeps the fastest
    if threads and cfg.threads and threads not in cfg.threads:
        raise ValueError(f"budget.threads {threads} is not measured on target {cfg.name!r} (its threads: "
                         f"{', '.join(map(str, cfg.threads))})")
    if threads and not cfg.threads and threads != recipe.bench.threads:
        raise ValueError(f"budget.threads {threads} is not measured on target {cfg.name!r} (bench.threads: "
                         f"{recipe.bench.threads}); set bench.threads or the target's threads to include it")
    if budget.format is not None and budget.format not in recipe.export.formats:
        raise ValueError(f"budget.format {budget.format!r} is not exported (export.formats: "
                         f"{', '.join(recipe.export.formats)})")
    if budget.latency_ms is not None and budget.latency_ms < MEASURABLE_MS:
        raise ValueError(f"budget.latency_ms {budget.latency_ms} is below anything measurable ({MEASURABLE_MS} ms)")
    if budget.size_kb is not None and budget.size_kb < MIN_FILE_KB:
        raise ValueError(f"budget.size_kb {budget.size_kb} is smaller than the smallest file a format writes "
                         f"({MIN_FILE_KB} KB)")
    if budget.latency_ms is not None and recipe.bench.min_runs < MIN_SAMPLES:
        raise ValueError(f"bench.min_runs {recipe.bench.min_runs}: a latency budget is judged by the 95% interval "
                         f"of its latency, which needs at least {MIN_SAMPLES} timings")


def parse_latency(text: str) -> float:
    """'8ms', '8 ms', '8', '0.5ms' -> milliseconds; ValueError for anything else or a value <= 0."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(ms)?\s*", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"--latency-budget {text!r}: a positive number of milliseconds, e.g. 8ms")
    return float(match.group(1))
