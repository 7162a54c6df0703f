import math

import pytest
import torch

from pipeline.losses import distillation_loss, kd_loss


def test_kd_loss_is_zero_when_student_equals_teacher():
    logits = torch.randn(8, 10)
    assert kd_loss(logits, logits.clone(), 4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_kd_loss_matches_hand_computed_kl_times_t_squared():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[2.0, 0.0]])
    t = 2.0
    p = [math.exp(1) / (math.exp(1) + 1), 1 / (math.exp(1) + 1)]  # softmax([2,0]/2)
    kl = sum(pi * math.log(pi / 0.5) for pi in p)  # student at T is uniform
    assert kd_loss(student, teacher, t).item() == pytest.approx(kl * t * t, rel=1e-5)


def test_alpha_mixes_kd_and_cross_entropy():
    student, teacher = torch.randn(4, 5), torch.randn(4, 5)
    labels = torch.tensor([0, 1, 2, 3])
    only_ce, parts = distillation_loss(student, teacher, labels, 3.0, 0.0)
    assert only_ce.item() == pytest.approx(torch.nn.functional.cross_entropy(student, labels).item())
    only_kd, _ = distillation_loss(student, teacher, labels, 3.0, 1.0)
    assert only_kd.item() == pytest.approx(kd_loss(student, teacher, 3.0).item())
    assert set(parts) == {"kd", "ce"}
