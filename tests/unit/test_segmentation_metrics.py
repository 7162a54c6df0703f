"""Segmentation's metric and losses: mIoU from one confusion matrix (ignore index honoured), the same on host and
device; pixel-wise KD, CWD and SKD's pair-wise term behave as their papers define them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgeship.pipeline.distillation.dense import channel_wise_loss, pairwise_loss
from edgeship.pipeline.distillation.logit import kd_loss
from edgeship.pipeline.tasks.segmentation import SEGMENTATION, ConfusionMeter
from edgeship.targets.agent import confusion_update, evaluate_details, segmentation_scores


def test_miou_by_hand_with_ignored_pixels():
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    predicted = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    confusion = confusion_update(np.zeros((3, 3), np.int64), predicted, truth)
    assert confusion.sum() == 6  # the two ignored pixels count nowhere
    scores = segmentation_scores(confusion)
    # class 0: hits 1, union 3 (truth 2 + predicted 2 - 1); class 1: 2 / 3; class 2: 1 / 2
    assert scores["per_class_iou"] == pytest.approx([100 / 3, 200 / 3, 50.0], abs=1e-3)
    assert scores["miou"] == pytest.approx((100 / 3 + 200 / 3 + 50) / 3)
    assert scores["pixel_accuracy"] == pytest.approx(4 / 6 * 100)


def test_classes_absent_from_truth_and_prediction_do_not_count():
    confusion = confusion_update(np.zeros((5, 5), np.int64), np.array([0, 1]), np.array([0, 1]))
    scores = segmentation_scores(confusion)
    assert scores["miou"] == pytest.approx(100.0) and scores["per_class_iou"][2:] == [None, None, None]


def test_mask_class_beyond_the_outputs_is_an_error():
    with pytest.raises(ValueError, match="mask class 7"):
        confusion_update(np.zeros((3, 3), np.int64), np.array([0]), np.array([7]))


def test_host_meter_and_device_agent_agree():
    """The training loop's meter and the device agent compute the same number from the same outputs."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4, 8, 8)).astype(np.float32)
    masks = rng.integers(0, 4, (6, 8, 8)).astype(np.uint8)
    masks[:, 0, 0] = 255
    meter = SEGMENTATION.meter(4)
    meter.update(torch.from_numpy(logits[:3]), torch.from_numpy(masks[:3]))
    meter.update(torch.from_numpy(logits[3:]), torch.from_numpy(masks[3:]))
    on_device = evaluate_details(lambda x: logits[[int(x[0, 0, 0, 0])]], np.arange(6, dtype=np.float32)
                                 .reshape(6, 1, 1, 1), masks, metric="miou")
    assert on_device["accuracy"] == pytest.approx(meter.value())
    assert on_device["segmentation"]["per_class_iou"] == meter.details()["per_class_iou"]
    assert isinstance(meter, ConfusionMeter)


def test_pixel_cross_entropy_ignores_255():
    logits = torch.randn(2, 3, 4, 4)
    masks = torch.randint(0, 3, (2, 4, 4), dtype=torch.uint8)
    changed = masks.clone()
    changed[:, :2] = 255
    expected = F.cross_entropy(logits[:, :, 2:], masks[:, 2:].long())
    assert SEGMENTATION.loss(logits, changed).item() == pytest.approx(expected.item(), rel=1e-5)


def test_pixel_kd_is_the_mean_of_per_pixel_kd():
    s, t = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 3, 4)
    per_pixel = [kd_loss(s[n, :, i, j][None], t[n, :, i, j][None], 4.0) for n in range(2) for i in range(3)
                 for j in range(4)]
    assert kd_loss(s, t, 4.0).item() == pytest.approx(torch.stack(per_pixel).mean().item(), rel=1e-5)


def test_channel_wise_distillation():
    t = torch.randn(2, 4, 8, 8)
    assert channel_wise_loss(t.clone(), t, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    assert channel_wise_loss(torch.randn(2, 4, 8, 8), t, 4.0).item() > 0
    # a teacher map of another resolution is pooled to the student's
    assert channel_wise_loss(torch.randn(2, 4, 4, 4), t, 1.0).item() > 0


def test_pairwise_similarity_ignores_channel_count_and_scale():
    t = torch.randn(2, 16, 8, 8)
    assert pairwise_loss(t * 3.0, t).item() == pytest.approx(0.0, abs=1e-6)  # cosine: scale-free
    assert pairwise_loss(torch.randn(2, 5, 8, 8), t).item() > 0              # channels may differ


def test_dense_methods_learn_from_a_teacher():
    """A student trained only on CWD or the pair-wise loss moves toward the teacher's maps."""
    torch.manual_seed(0)
    x = torch.randn(8, 1, 8, 8)
    teacher = torch.nn.Conv2d(1, 3, 3, padding=1)
    for loss in (lambda s, t: channel_wise_loss(s, t, 2.0), pairwise_loss):
        student = torch.nn.Conv2d(1, 3, 3, padding=1)
        optimizer = torch.optim.Adam(student.parameters(), lr=0.05)
        with torch.no_grad():
            target = teacher(x)
        first = loss(student(x), target).item()
        for _ in range(100):
            optimizer.zero_grad()
            value = loss(student(x), target)
            value.backward()
            optimizer.step()
        assert value.item() < 0.5 * first


def test_the_agent_takes_its_metric_from_the_eval_set_never_from_the_labels_shape():
    """Masks scored as top-1 are an error naming the metric, not a silent switch to mIoU; an unknown metric too."""
    logits = np.zeros((2, 3, 4, 4), dtype=np.float32)
    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="metric top1 takes one label per image"):
        evaluate_details(lambda x: logits[:len(x)], np.zeros((2, 1, 4, 4), np.float32), masks)
    with pytest.raises(ValueError, match="unknown metric 'keypoints'"):
        evaluate_details(lambda x: logits[:len(x)], np.zeros((2, 1, 4, 4), np.float32), masks, metric="keypoints")
    assert evaluate_details(lambda x: logits[:len(x)], np.zeros((2, 1, 4, 4), np.float32), masks,
                            metric="miou")["segmentation"]["pixel_accuracy"] == 100.0
