"""Speed decisions on statistics: a paired interval calls a difference only when it excludes "equal within N%";
ship keeps the more accurate file otherwise. Timing series drawn from known distributions: no agent."""
from __future__ import annotations

import numpy as np
import pytest

from edgeship.pipeline.core.contracts.speed import FASTER, SAME, SLOWER, UNMEASURED, SpeedComparison
from edgeship.pipeline.reporting.ship import choose
from edgeship.pipeline.reporting.tradeoffs import int8_vs_fp32
from tests.unit.test_results import row


def timings(p50: float, count: int = 300, seed: int = 0) -> list[float]:
    """Latency-like series: a floor plus a right-skewed tail, and a slow stretch in the middle (a neighbour)."""
    rng = np.random.default_rng(seed)
    values = p50 * (0.95 + rng.gamma(2.0, 0.03, count))
    values[count // 3: count // 3 + 40] *= 1.6
    return values.tolist()


@pytest.mark.parametrize("ratio,verdict", [(0.5, FASTER), (1.0, SAME), (1.02, SAME), (1.5, SLOWER)])
def test_a_difference_is_called_only_outside_equal_within(ratio, verdict):
    c = SpeedComparison.judge("fp32", "int8", "local", timings(1.0, seed=1), timings(ratio, seed=2), 0.05)
    assert c.verdict == verdict and c.low <= c.ratio <= c.high and c.samples == 300
    assert c.ratio == pytest.approx(ratio, rel=0.05)
    assert f"{c.ratio:.2f}x [" in c.sentence("int8", "fp32") and "95% interval" in c.sentence("int8", "fp32")


def test_too_few_timings_are_not_a_verdict():
    c = SpeedComparison.judge("fp32", "int8", "local", [1.0] * 10, [0.5] * 10, 0.05)
    assert c.verdict == UNMEASURED and not c.measured and "too few timings" in c.interval()


def _rows(int8_accuracy: float, int8_p50: float = 1.0):
    return [row("pruned", accuracy=90.0), row("onnx-fp32", "onnx", accuracy=90.0, p50=1.0),
            row("onnx-int8", "onnx", "int8", accuracy=int8_accuracy, p50=int8_p50)]


def test_no_measurable_difference_ships_the_more_accurate_file():
    # The demo's case: OpenVINO int8 0.28 points less accurate at an identical p50.
    same = SpeedComparison.judge("onnx-fp32", "onnx-int8", "local", timings(1.0, seed=3), timings(0.99, seed=4),
                                 0.05)
    assert same.verdict == SAME
    choice = choose(_rows(89.72, 0.99), "pruned", ["onnx"], 1.0, speed=[same])["onnx"]
    assert choice.stage == "onnx-fp32" and "no measurable difference" in choice.reason
    assert "the more accurate file ships" in choice.reason


def test_a_measurably_faster_file_within_budget_ships():
    faster = SpeedComparison.judge("onnx-fp32", "onnx-int8", "local", timings(1.0, seed=5), timings(0.4, seed=6),
                                   0.05)
    choice = choose(_rows(89.72, 0.4), "pruned", ["onnx"], 1.0, speed=[faster])["onnx"]
    assert choice.stage == "onnx-int8" and "onnx-int8 is faster than onnx-fp32" in choice.reason
    # ... and where int8 is the more accurate but measurably slower, fp32 ships.
    slower = SpeedComparison.judge("onnx-fp32", "onnx-int8", "local", timings(1.0, seed=7), timings(2.0, seed=8),
                                   0.05)
    assert choose(_rows(90.5, 2.0), "pruned", ["onnx"], 1.0, speed=[slower])["onnx"].stage == "onnx-fp32"


def test_without_paired_timing_the_single_p50_decides_and_says_so():
    unmeasured = SpeedComparison.unmeasured("onnx-fp32", "onnx-int8", "local", "target local cannot time two")
    choice = choose(_rows(89.72, 0.5), "pruned", ["onnx"], 1.0, speed=[unmeasured])["onnx"]
    assert choice.stage == "onnx-int8" and "not timed interleaved: target local cannot time two" in choice.reason


def test_int8_warning_only_when_measurably_slower():
    rows = _rows(89.9, 1.03)
    same = SpeedComparison.judge("onnx-fp32", "onnx-int8", "local", timings(1.0, seed=9), timings(1.03, seed=10),
                                 0.05)
    entry = int8_vs_fp32(rows, [same])[0]
    assert entry["latency_ratio"] > 1.0 and entry["warning"] is None and entry["speed"]["verdict"] == SAME
    slower = SpeedComparison.judge("onnx-fp32", "onnx-int8", "local", timings(1.0, seed=9), timings(1.8, seed=10),
                                   0.05)
    assert "measurably slower" in int8_vs_fp32(_rows(89.9, 1.8), [slower])[0]["warning"]
