"""Successive halving over distillation candidates: who survives each rung, budgets, time limit, the grid."""
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.distillation.search import Candidate, candidates, successive_halving

GRID = [Candidate("scratch")] + [Candidate("kd", t, 0.9) for t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)]


def _score(cand: Candidate, epochs: float) -> float:
    """Higher temperature scores better here, and longer training adds the same to everyone."""
    return (cand.temperature or 0.0) + epochs


def test_each_rung_keeps_the_best_third_with_three_times_the_budget():
    seen = []
    result = successive_halving(GRID, lambda c, e: seen.append((c.label(), e)) or _score(c, e), full_epochs=9.0)
    rung0 = [e for _, e in seen[:9]]
    assert rung0 == [1.0] * 9  # 9 / 3^2
    assert [label for label, _ in seen[9:]] == ["kd T=8 alpha=0.9", "kd T=7 alpha=0.9", "kd T=6 alpha=0.9"]
    assert all(e == 3.0 for _, e in seen[9:])
    assert result.pick.temperature == 8.0 and not result.timed_out and result.beats_scratch
    assert [t.rung for t in result.trials] == [0] * 9 + [1] * 3


def test_out_of_time_picks_the_best_of_the_furthest_rung():
    result = successive_halving(GRID, _score, full_epochs=9.0, time_budget=0.0)
    assert result.timed_out and result.trials == [] and result.pick in GRID


def test_a_pick_below_scratch_is_said():
    scores = {"scratch": 90.0}
    result = successive_halving(GRID, lambda c, e: scores.get(c.method, 50.0 + (c.temperature or 0)), 9.0)
    assert result.pick.method == "kd" and not result.beats_scratch


def test_grid_covers_methods_by_task_and_layers():
    with_layers = {c.method for c in candidates(dict(METHODS.items()), "classification", True)}
    assert {"scratch", "kd", "dkd", "dist", "fitnets", "at", "sp", "rkd", "pkt", "vid", "crd"} <= with_layers
    without = {c.method for c in candidates(dict(METHODS.items()), "classification", False)}
    assert without == {"scratch", "kd", "dkd", "dist"}  # feature methods need layer pairs
    segmentation = {c.method for c in candidates(dict(METHODS.items()), "segmentation", False)}
    assert not {"dkd", "dist"} & segmentation and "cwd" in segmentation
    feature = [c for c in candidates(dict(METHODS.items()), "classification", True) if c.method == "at"]
    assert {(c.alpha, c.balance) for c in feature} == {(0.0, 0.25), (0.9, 0.25), (0.9, 0.1)}
    assert feature[0].settings()["beta"] == "auto"


def test_detection_grid_has_its_own_methods_and_no_softmax_kd():
    grid = candidates(dict(METHODS.items()), "detection", True)
    assert {c.method for c in grid} == {"scratch", "pkd", "cwd", "imitation", "fgd", "head-kd"}
    assert all(c.alpha == 0.0 for c in grid if c.method != "scratch")
    labels = [c.label() for c in grid]  # a method that reads no temperature is tried once, not at T 2 and 4
    assert len(labels) == len(set(labels)) and labels.count("head-kd") == 1 and labels.count("cwd") == 1
    dkd = [c.temperature for c in candidates(dict(METHODS.items()), "classification", False) if c.method == "dkd"]
    assert dkd == [2.0, 4.0]
