"""Never ship a broken model: health verdicts, the ship line's start, unfit and teacher rows kept out of ship/,
speed-ups in one runtime, accuracy intervals. Made-up rows and artifacts: no training."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgeship.pipeline.config.recipe import DistillConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.results import wilson_interval
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.engine.results import unfit_stages
from edgeship.pipeline.engine.ship_line import after_pruning, choose_start, unfit_teacher
from edgeship.pipeline.reporting.report import add_speedups
from edgeship.pipeline.reporting.ship import choose
from edgeship.pipeline.training.health import near_chance_limit, problems
from tests.unit.test_results import STAGES, row


def artifact(stage: str, val: float, health: list[str] | None = None) -> Artifact:
    return Artifact.made(STAGES[stage], folder=Path("/nowhere"), file="m", key=stage, parent=None, inputs=[],
                         preprocessing={}, labels=[], metrics={"val_accuracy": val, "health": health or []})


def test_a_pruned_student_that_lost_more_than_the_ship_budget_does_not_carry_the_ship_line():
    start = artifact("student-kd", 60.0)
    kept = artifact("pruned", 59.2)
    assert after_pruning(kept, start, 1.0, "mIoU") == (kept, None)
    chosen, why = after_pruning(artifact("pruned", 52.0), start, 1.0, "mIoU")
    assert chosen is start and "validation mIoU fell from 60.00 to 52.00, more than ship.max_accuracy_drop (1)" in why
    chosen, why = after_pruning(artifact("pruned", 59.9, ["it predicts 'background' on 99% of the pixels"]), start,
                                1.0, "mIoU")
    assert chosen is start and "not fit to ship (it predicts 'background'" in why
    assert after_pruning(None, start, 1.0, "mIoU") == (start, None)


def test_an_unfit_teacher_stops_only_schemes_that_learn_from_it():
    unfit, fit = artifact("teacher", 9.0, ["near chance"]), artifact("teacher", 90.0)
    assert "no student is distilled from it" in unfit_teacher(unfit, DistillConfig(), True)
    assert unfit_teacher(unfit, DistillConfig(), False) is None  # online, self: the teacher is an anchor only
    assert unfit_teacher(unfit, DistillConfig(unfit_teacher="distill"), True) is None
    assert unfit_teacher(fit, DistillConfig(), True) is None


def test_chance_level_and_eval_collapse_are_problems():
    assert near_chance_limit(10) == pytest.approx(19.0) and near_chance_limit(2) == pytest.approx(55.0)
    assert problems(10.0, 77.0, 10) and "near chance" in problems(10.0, 77.0, 10)[0]
    assert "less than half its training accuracy" in problems(30.0, 77.0, 10)[-1]  # BN never settled
    assert problems(60.0, 100.0, 10) == []  # overfitting is not broken
    assert problems(97.0, 99.0, 10) == [] and problems(float("nan"), 99.0, 10) == []


def test_the_ship_line_starts_from_the_better_healthy_student():
    kd, scratch = artifact("student-kd", 23.5), artifact("student-scratch", 69.5)
    line = choose_start({"student-kd": kd, "student-scratch": scratch}, "best")
    assert line.start is scratch and not line.distilled and "beats the distilled student" in line.notice
    assert choose_start({"student-kd": kd, "student-scratch": scratch}, "kd").start is kd
    kd_better = {"student-kd": artifact("student-kd", 80.0), "student-scratch": artifact("student-scratch", 79.0)}
    assert choose_start(kd_better, "best").distilled
    broken_kd = {"student-kd": artifact("student-kd", 90.0, ["near chance"]),
                 "student-scratch": artifact("student-scratch", 50.0)}
    assert choose_start(broken_kd, "best").start.stage == "student-scratch"
    with pytest.raises(EdgeshipError, match="ship.start_from: scratch needs distill.baseline"):
        choose_start({"student-kd": kd}, "scratch")


def test_unfit_students_and_their_conversions_are_never_shipped():
    artifacts = {"teacher": artifact("teacher", 97.0), "teacher-onnx-fp32": artifact("teacher-onnx-fp32", 97.0),
                 "pruned": artifact("pruned", 10.0, ["validation accuracy 10.0% is near chance"]),
                 "onnx-fp32": artifact("onnx-fp32", 0.0)}
    unfit = unfit_stages(artifacts, "pruned")
    assert set(unfit) == {"pruned", "onnx-fp32"}  # the teacher's own export is not the student's problem
    rows = [row("pruned", accuracy=10.0), row("onnx-fp32", "onnx", accuracy=10.0)]
    choice = choose(rows, "pruned", ["onnx"], 1.0, unfit)["onnx"]
    assert choice.stage is None and "not fit to ship" in choice.reason and "near chance" in choice.reason


def test_teacher_rows_are_compared_in_their_runtime_and_never_shipped():
    rows = [row("teacher", p50=8.0), row("teacher-onnx-fp32", "onnx", p50=2.0, accuracy=95.0),
            row("pruned", p50=1.0), row("onnx-fp32", "onnx", p50=0.5)]
    add_speedups(rows)
    student_onnx = rows[3]
    assert student_onnx.speedup_vs_teacher == 4.0 and student_onnx.speedup_vs_torch_teacher == 16.0
    assert rows[2].speedup_vs_teacher == 8.0  # torch student against torch teacher
    assert choose(rows, "pruned", ["onnx"], 1.0)["onnx"].stage == "onnx-fp32"


def test_accuracy_interval_is_wilson():
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(40.38, abs=0.01) and high == pytest.approx(59.62, abs=0.01)
    low, high = wilson_interval(1.0, 50)
    assert high == 100.0 and 92 < low < 93.5  # never past 100%, not zero-width at 100%
    r = row("onnx-fp32", "onnx", accuracy=97.5, eval_samples=360)
    assert r.display_accuracy().startswith("97.50 ±") and row("x").display_accuracy() == "90.00"
