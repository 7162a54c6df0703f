"""The CI gate: did latency or accuracy regress against a baseline, with a stated confidence?

Latency is judged on the raw per-iteration timings, never on two summary numbers: the block-bootstrap interval
of the ratio of medians (or p90s) of edgeship.pipeline.core.contracts.speed. A row
- fails when the whole one-sided interval lies above 1 + threshold (a slowdown beyond it, at that confidence),
- passes when the whole interval lies below 1 + threshold,
- is inconclusive otherwise (too few samples, or too noisy to tell): more samples, or it is reported as such.

Resampling inside each series says nothing about how two separate runs differ (another hour, another neighbour
on the machine, another boot of the board). So a verdict rests on timings of baseline and candidate taken
interleaved in one agent (paired), judged again after each extra look at a confidence corrected for the number
of looks; timings of two separate runs are judged only with their interval widened by the between-run spread.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from edgeship.pipeline.core.contracts.speed import MIN_SAMPLES, ratio_interval


@dataclass(frozen=True)
class GateSettings:
    max_latency_regression: float = 0.10  # fraction: 0.10 = 10% slower
    max_accuracy_drop: float = 0.5        # points of the task's metric (top-1, mIoU)
    metric: str = "p50"                   # p50 | p90
    confidence: float = 0.99
    # How far one model's p50 moves between two separate runs on one target (measured here: 0.87-1.12, see
    # benchmarks/gate_power.py): a comparison of stored timings of two runs must clear the threshold by it.
    between_run_spread: float = 0.15
    looks: int = 3                        # interleaved measurements per row at most (Bonferroni over the looks)
    # Peak RSS of the agent (runtime + model + buffers) may grow by this fraction; None: not judged. Peak RSS of
    # one model in one runtime repeats within a few MB, so a plain ratio, no interval.
    max_memory_regression: float | None = 0.25
    accuracy_unit: str = "points"  # how verdicts name an accuracy change: "points mAP" for a detection run

    def per_look(self) -> "GateSettings":
        """The settings one of `looks` sequential looks is judged at, so that all looks together keep the
        stated confidence (Bonferroni: the error rate is split evenly over the looks)."""
        return replace(self, confidence=1.0 - (1.0 - self.confidence) / max(1, self.looks))


def unjudged(verdict: str, reason: str) -> dict:
    """A latency verdict without a ratio or interval (nothing to time, or too little of it)."""
    return {"verdict": verdict, "ratio": None, "low": None, "high": None, "reason": reason}


def latency_verdict(baseline: list[float], current: list[float], settings: GateSettings, seed: int = 0,
                    paired: bool = False) -> dict:
    """Ratio current/baseline of the metric with its block-bootstrap interval, and pass/fail/inconclusive.

    paired: the two series were timed interleaved (block i of one beside block i of the other), so the same
    blocks are drawn on both sides and whatever slowed the machine at that moment cancels out of the ratio."""
    found = ratio_interval(baseline, current, settings.metric, 1.0 - settings.confidence, paired, seed)
    if found is None:
        return unjudged("inconclusive", f"too few samples ({len(baseline)} baseline, {len(current)} current; "
                                        f"need {MIN_SAMPLES})")
    ratio, low, high = found
    return _decide(ratio, low, high, settings)


def across_runs(verdict: dict, settings: GateSettings) -> dict:
    """A verdict on timings stored by two separate runs: the interval widened by the between-run spread, so
    only a difference larger than the runs' own scatter passes or fails."""
    if verdict["low"] is None:
        return verdict
    spread = 1.0 + settings.between_run_spread
    widened = _decide(verdict["ratio"], verdict["low"] / spread, verdict["high"] * spread, settings)
    if widened["verdict"] == "inconclusive":
        widened["reason"] = (f"separate runs scatter by {settings.between_run_spread:.0%}: too close to the "
                             f"threshold to tell without timing both models interleaved")
    return widened


def _decide(ratio: float, low: float, high: float, settings: GateSettings) -> dict:
    limit = 1.0 + settings.max_latency_regression
    if low > limit:
        verdict, reason = "fail", f"slower by more than {settings.max_latency_regression:.0%}"
    elif high < limit:
        verdict, reason = "pass", f"within {settings.max_latency_regression:.0%}"
    else:
        verdict, reason = "inconclusive", "interval straddles the threshold: too noisy to tell"
    return {"verdict": verdict, "ratio": ratio, "low": low, "high": high, "reason": reason}


def accuracy_verdict(baseline: float | None, current: float | None, settings: GateSettings) -> dict:
    if baseline is None or current is None:
        return {"verdict": "pass", "drop": None, "reason": "no accuracy measured"}
    drop = baseline - current
    verdict = "fail" if drop > settings.max_accuracy_drop else "pass"
    return {"verdict": verdict, "drop": drop,
            "reason": f"dropped {drop:.2f} {settings.accuracy_unit} (allowed {settings.max_accuracy_drop})"
            if verdict == "fail" else f"{-drop:+.2f} {settings.accuracy_unit}"}


def memory_verdict(baseline_mb: float | None, current_mb: float | None, settings: GateSettings,
                   emulated: bool = False) -> dict:
    """Peak RSS against the baseline's: fail beyond max_memory_regression; an emulator's memory is not judged."""
    limit = settings.max_memory_regression
    if limit is None or emulated or not baseline_mb or current_mb is None:
        why = ("emulated: memory not judged" if emulated else "memory not judged" if limit is None
               else "no peak RSS measured")
        return {"verdict": "pass", "ratio": None, "reason": why}
    ratio = current_mb / baseline_mb
    if ratio > 1.0 + limit:
        return {"verdict": "fail", "ratio": ratio, "reason": f"peak RSS grew {ratio - 1:.0%} ({baseline_mb:.0f} -> "
                f"{current_mb:.0f} MB; allowed {limit:.0%})"}
    return {"verdict": "pass", "ratio": ratio, "reason": f"peak RSS x{ratio:.2f}"}
