"""Adaptive KD's decisions: a student behind its scratch twin by more than the interval takes the next step, in the
documented order, one per epoch; within the interval, or ahead, nothing changes."""
import numpy as np
import pytest

from edgeship.pipeline.distillation.adapt import ADAPTATIONS, Adaptation, Reference, difference_half_width


def test_the_interval_of_a_difference_shrinks_with_more_images():
    assert difference_half_width(80.0, 80.0, 1000) < difference_half_width(80.0, 80.0, 100)
    assert difference_half_width(80.0, 80.0, 1000) == pytest.approx(100 * 1.96 * (2 * 0.16 / 1000) ** 0.5)


def test_a_student_inside_the_interval_is_left_alone():
    adapt = Adaptation(Reference((70.0, 75.0), images=500), alpha=0.9, temperature=4.0)
    assert adapt.after_epoch(1, 68.0) is None  # 2 points behind, the interval is about 5.6 on 500 images
    assert adapt.after_epoch(2, 80.0) is None  # ahead
    assert (adapt.alpha, adapt.temperature, adapt.logit_loss, adapt.teacher_on) == (0.9, 4.0, "kl", True)


def test_a_student_far_behind_takes_one_step_per_epoch_in_order():
    adapt = Adaptation(Reference((70.0,) * 6, images=1000), alpha=0.9, temperature=4.0)
    taken = [adapt.after_epoch(epoch, 40.0) for epoch in range(1, 7)]
    assert [a["action"] for a in taken[:4]] == list(ADAPTATIONS) and taken[4:] == [None, None]
    assert (adapt.alpha, adapt.temperature, adapt.logit_loss, adapt.teacher_on) == (0.5, 2.0, "dist", False)
    assert taken[0]["from"] == 0.9 and taken[0]["to"] == 0.5
    assert taken[0]["scratch_val"] == 70.0 and taken[0]["student_val"] == 40.0 and taken[0]["margin"] > 0
    assert adapt.summary()["actions"] == taken[:4]


def test_the_paired_interval_decides_where_the_scratch_student_kept_its_outcomes():
    # 2 points behind on 1000 images: inside the unpaired interval (about 3.9), outside a tight paired one
    adapt = Adaptation(Reference((70.0,), images=1000), alpha=0.9, temperature=4.0)
    paired = {"difference": -2.0, "low": -3.1, "high": -0.9, "images": 1000}
    assert adapt.behind(1, 68.0) is None
    evidence = adapt.after_epoch(1, 68.0, paired)
    assert evidence["action"] == "alpha" and evidence["paired"] and evidence["high"] == -0.9
    assert evidence["margin"] == pytest.approx(1.1)
    # an interval that reaches zero is a tie, however far the point estimate
    assert adapt.behind(1, 60.0, {"difference": -10.0, "low": -20.0, "high": 0.5, "images": 1000}) is None


def test_the_reference_gives_counts_only_for_the_same_images_and_epochs():
    counts = np.ones((2, 50, 2), dtype=np.int32)
    assert Reference((70.0, 72.0), images=50, counts=counts).counts_at(2).shape == (50, 2)
    assert Reference((70.0, 72.0), images=50, counts=counts).counts_at(3) is None
    assert Reference((70.0, 72.0), images=60, counts=counts).counts_at(1) is None  # another validation split
    assert Reference((70.0, 72.0), images=50).counts_at(1) is None


def test_a_step_that_would_change_nothing_gives_way_to_the_next():
    adapt = Adaptation(Reference((70.0,), images=1000), alpha=0.3, temperature=1.0)
    assert adapt.after_epoch(1, 40.0)["action"] == "dist"  # alpha already low, temperature already 1


def test_epochs_beyond_the_scratch_curve_are_not_judged():
    adapt = Adaptation(Reference((70.0,), images=1000), alpha=0.9, temperature=4.0)
    assert adapt.after_epoch(2, 10.0) is None


def test_the_verdict_of_a_student_that_did_not_gain_says_what_adapted_and_what_to_try():
    from edgeship.pipeline.reporting.distillation import what_next

    adapt = Adaptation(Reference((70.0,) * 3, images=1000), alpha=0.9, temperature=4.0)
    for epoch in (1, 2):
        adapt.after_epoch(epoch, 40.0)
    said = what_next({"adapted": adapt.summary()})
    assert "changed alpha, temperature from epoch 1" in said and "distill.alpha 0.5, distill.temperature 2" in said
    adapt.after_epoch(3, 40.0)
    assert "distill.method dist, distill.alpha 0" in what_next({"adapted": adapt.summary()})
    calm = Adaptation(Reference((70.0,), images=1000), alpha=0.9, temperature=4.0)
    assert "never measurably behind" in what_next({"adapted": calm.summary()})
    assert "distill.adapt: false" in what_next({"adapted": None, "adapt": False})


def test_family_defaults_apply_only_where_the_recipe_names_no_kd_setting():
    from edgeship.pipeline.config.distill import DistillConfig
    from edgeship.pipeline.distillation.family_settings import family_settings
    from edgeship.pipeline.models.zoo import build_model

    regularized = build_model("efficientnet_b0", 10, 1, 32, {})  # stochastic depth
    plain = build_model("mobilenet_v3_small", 10, 1, 32, {})
    cfg, row = family_settings(DistillConfig(), regularized)
    assert (cfg.method, cfg.alpha) == ("dist", 0.0) and "stochastic depth" in row.said()
    assert family_settings(DistillConfig(), plain) == (DistillConfig(), None)
    pinned = DistillConfig.model_validate({"alpha": 0.9})
    assert family_settings(pinned, regularized) == (pinned, None)


def test_a_student_without_a_logit_term_can_only_lose_its_teacher():
    adapt = Adaptation(Reference((70.0,), images=1000), alpha=0.0, temperature=2.0)
    assert adapt.after_epoch(1, 40.0)["action"] == "teacher off"
