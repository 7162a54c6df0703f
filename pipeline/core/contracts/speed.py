"""Is one model measurably faster than another? The ratio of two timing series with a block-bootstrap interval.

Timings come in runs of correlated samples (a noisy neighbour slows a stretch, not one sample), so the interval
of the ratio of medians (or p90s) resamples contiguous blocks, not samples. Timed interleaved in one agent
(paired), block i of one series sits beside block i of the other and the same blocks are drawn on both sides,
so whatever slowed the machine at that moment cancels out of the ratio. The CI gate (edgeship.pipeline.gate.statistics),
ship and the int8 and pruning tables all judge speed here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MIN_SAMPLES = 30
MAX_BLOCKS = 20
MIN_BLOCK = 5
BOOTSTRAP = 2000

FASTER, SLOWER, SAME, UNMEASURED = "faster", "slower", "no measurable difference", "not measured"


def _blocks(samples: np.ndarray) -> np.ndarray:
    """Contiguous, equal blocks (the tail that does not fill a block is dropped): shape (blocks, length)."""
    count = max(2, min(MAX_BLOCKS, len(samples) // MIN_BLOCK))
    length = len(samples) // count
    return samples[: count * length].reshape(count, length)


def _statistic(values: np.ndarray, metric: str, axis=None):
    return np.percentile(values, 90 if metric == "p90" else 50, axis=axis)


def ratio_interval(baseline: list[float], current: list[float], metric: str = "p50", tail: float = 0.025,
                   paired: bool = False, seed: int = 0) -> tuple[float, float, float] | None:
    """(ratio current/baseline of the metric, low, high): low and high cut `tail` off each end of the bootstrap
    distribution (0.025: a two-sided 95% interval). None with fewer than MIN_SAMPLES timings on a side."""
    base, cur = np.asarray(baseline, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if len(base) < MIN_SAMPLES or len(cur) < MIN_SAMPLES:
        return None
    ratio = float(_statistic(cur, metric) / _statistic(base, metric))
    rng = np.random.default_rng(seed)
    paired = paired and len(base) == len(cur)
    shared = None
    draws = []
    for series in (base, cur):
        blocks = _blocks(series)
        picks = shared if paired and shared is not None else rng.integers(0, len(blocks), (BOOTSTRAP, len(blocks)))
        shared = picks
        draws.append(_statistic(blocks[picks].reshape(BOOTSTRAP, -1), metric, axis=1))
    ratios = draws[1] / draws[0]
    return ratio, float(np.percentile(ratios, tail * 100.0)), float(np.percentile(ratios, 100.0 - tail * 100.0))


def latency_interval(timings: list[float], metric: str = "p50", tail: float = 0.025,
                     seed: int = 0) -> tuple[float, float, float] | None:
    """(p50 or p90 of one timing series, low, high): its 95% interval by resampling blocks, as ratio_interval
    does. None with fewer than MIN_SAMPLES timings."""
    series = np.asarray(timings, dtype=np.float64)
    if len(series) < MIN_SAMPLES:
        return None
    blocks = _blocks(series)
    picks = np.random.default_rng(seed).integers(0, len(blocks), (BOOTSTRAP, len(blocks)))
    draws = _statistic(blocks[picks].reshape(BOOTSTRAP, -1), metric, axis=1)
    return (float(_statistic(series, metric)), float(np.percentile(draws, tail * 100.0)),
            float(np.percentile(draws, 100.0 - tail * 100.0)))


@dataclass
class SpeedComparison:
    """Candidate against baseline on one target, timed interleaved in one agent: p50 ratio candidate/baseline
    with its 95% interval. A difference is called only when the interval excludes "equal within
    `equal_within`"; otherwise the two are the same speed as far as this machine can tell."""

    baseline: str                 # stage names
    candidate: str
    target: str
    verdict: str = UNMEASURED     # faster | slower | no measurable difference | not measured (the candidate's)
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    samples: int = 0              # timings per side
    equal_within: float = 0.05
    note: str = ""                # why it was not measured

    @classmethod
    def judge(cls, baseline: str, candidate: str, target: str, base_t: list[float], cur_t: list[float],
              equal_within: float) -> "SpeedComparison":
        found = ratio_interval(base_t, cur_t, paired=True)
        if found is None:
            return cls(baseline, candidate, target, UNMEASURED, samples=min(len(base_t), len(cur_t)),
                       equal_within=equal_within, note=f"too few timings (need {MIN_SAMPLES})")
        ratio, low, high = found
        verdict = (FASTER if high < 1.0 / (1.0 + equal_within) else SLOWER if low > 1.0 + equal_within else SAME)
        return cls(baseline, candidate, target, verdict, ratio, low, high, min(len(base_t), len(cur_t)),
                   equal_within)

    @classmethod
    def unmeasured(cls, baseline: str, candidate: str, target: str, note: str) -> "SpeedComparison":
        return cls(baseline, candidate, target, UNMEASURED, note=note)

    @property
    def measured(self) -> bool:
        return self.verdict != UNMEASURED

    def interval(self) -> str:
        """'0.46x [0.44, 0.48]', or why there is no figure."""
        if not self.measured:
            return f"not measured ({self.note})"
        return f"{self.ratio:.2f}x [{self.low:.2f}, {self.high:.2f}]"

    def sentence(self, candidate: str, baseline: str) -> str:
        """'int8 is faster than fp32: p50 0.46x [0.44, 0.48], 95% interval, timed interleaved on local'."""
        if not self.measured:
            return f"{candidate} against {baseline}: speed not measured ({self.note})"
        said = (f"is {self.verdict} than" if self.verdict in (FASTER, SLOWER) else
                f"shows no measurable difference (within {self.equal_within:.0%}) from")
        return (f"{candidate} {said} {baseline}: p50 {self.interval()} (95% interval, {self.samples} timings "
                f"each, interleaved on {self.target})")

    def to_dict(self) -> dict:
        return asdict(self)
