"""A short distillation run per method on digits, plus the layer-pair checks users hit first."""
import math

import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig, DistillConfig, TrainConfig
from edgeship.pipeline.core.contracts.plugins import METHODS as METHODS_REGISTRY
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.distillation.distiller import AUTO_BATCHES, Distiller
from edgeship.pipeline.distillation.guard import meter_value, paired_difference
from edgeship.pipeline.distillation.logit import dist_loss
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.tasks.classification import CLASSIFICATION
from edgeship.pipeline.training.loop import accuracy, train

PAIRS = [{"teacher": "layer2", "student": "features.6"}]


@pytest.fixture(scope="module")
def digits():
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    return data.train, data.val


@pytest.fixture(scope="module")
def teacher(digits):
    train_split, val_split = digits
    model = build_model("cifar_resnet8", 10, 1, 8, {"width": 8})
    train(model, train_split, val_split, TrainConfig(epochs=2, lr=0.05), seed=0)
    return model.eval()


def _student():
    torch.manual_seed(0)
    return build_model("simple_cnn", 10, 1, 8, {"width": 8, "depth": 2})


METHODS = [("kd", {}), ("fitnets", {"layers": PAIRS}), ("fitnets", {"layers": PAIRS, "hint_epochs": 0}),
           ("at", {"layers": PAIRS}), ("sp", {"layers": PAIRS}), ("dkd", {"alpha": 0.0, "options": {"warmup": 1}}),
           ("dist", {"alpha": 0.0}),
           ("rkd", {"layers": PAIRS}), ("pkt", {"layers": PAIRS}), ("vid", {"layers": PAIRS}),
           ("crd", {"layers": PAIRS})]
CHANCE = 10.0
EPOCHS = 10  # about a second a method on digits; 3 epochs left students underfit and noisy
_RUNS: dict[str, tuple] = {}


def _distill(digits, teacher, method: str, extra: dict):
    """EPOCHS epochs of one method on digits, once per module: (student, history, weights before, config)."""
    name = f"{method}{sorted(extra.items())}"
    if name not in _RUNS:
        train_split, val_split = digits
        student = _student()
        before = [p.detach().clone() for p in student.parameters()]
        cfg = DistillConfig(method=method, **extra)
        distiller = Distiller(teacher, student, cfg, torch.zeros(1, 1, 8, 8))
        history = train(student, train_split, val_split, TrainConfig(epochs=EPOCHS, lr=0.01, optimizer="adam"),
                        seed=0, distiller=distiller)
        distiller.close()
        _RUNS[name] = student, history, before, distiller.hint_epochs
    return _RUNS[name]


@pytest.mark.parametrize("method, extra", METHODS)
def test_each_method_trains_a_student(digits, teacher, method, extra):
    student, history, before, hint_epochs = _distill(digits, teacher, method, extra)
    assert len(history) == EPOCHS + hint_epochs
    last = history[-1]
    assert np.isfinite(last["loss"]) and last["teacher_logits"] == "cached"
    if method != "kd":
        assert last[method] > 0  # the method's own loss took part
    if method == "fitnets":  # the paper's two stages by default: one hint epoch first
        assert hint_epochs == extra.get("hint_epochs", 1)
    if hint_epochs:
        assert history[0]["ce"] == 0.0 and history[0]["fitnets"] > 0  # stage 1 trains on the hint alone
    after = list(student.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert sum(not torch.equal(a, b) for a, b in zip(before, after)) == len(before)  # every layer trained
    assert not student.features[6]._forward_hooks  # hooks removed


# With the published weights (beta: paper) the feature methods drowned the cross entropy here: FitNets and AT
# students stayed near chance every time; beta: auto (the default) balances them against it. Three-epoch runs
# (60 optimizer steps) left every student underfit and spread wide from one CPU to the next: scratch 68-77%, KD
# 44-73%, PKT 23-47% on the AVX-512 Xeon, and PKT 14.7% once in CI. At 10 epochs every method lands between 73%
# (PKT, the weakest) and 96% over three seeds, scratch 92-94%; the floor, 5x chance, is 23 points under the
# lowest seen, and a method that stops the student learning (a constant output scores 10%) still fails.
FLOOR = 5 * CHANCE


@pytest.mark.parametrize("method, extra", METHODS)
def test_each_method_learns_well_above_chance(digits, teacher, method, extra):
    student = _distill(digits, teacher, method, extra)[0]
    top1 = accuracy(student, digits[1])
    assert top1 >= FLOOR, (method, top1)


def test_unknown_layer_lists_the_modules(teacher):
    cfg = DistillConfig(method="fitnets", layers=[{"teacher": "layer9", "student": "features.6"}])
    with pytest.raises(EdgeshipError, match=r"distill.layers.teacher: no module named 'layer9' \(modules: .*layer2"):
        Distiller(teacher, _student(), cfg, torch.zeros(1, 1, 8, 8))


def test_feature_method_without_layers_is_refused(teacher):
    with pytest.raises(EdgeshipError, match="distill.layers: method 'at' needs"):
        Distiller(teacher, _student(), DistillConfig(method="at"), torch.zeros(1, 1, 8, 8))


def test_non_spatial_layer_is_rejected_with_shapes(teacher):
    cfg = DistillConfig(method="at", layers=[{"teacher": "fc", "student": "classifier"}])
    with pytest.raises(EdgeshipError, match="must give NCHW feature maps"):
        Distiller(teacher, _student(), cfg, torch.zeros(1, 1, 8, 8))


def test_cached_teacher_outputs_equal_live_ones(digits, teacher):
    train_split = digits[0]
    x = train_split.inputs()
    student = _student()
    cfg = DistillConfig(method="fitnets", layers=PAIRS)
    cached = Distiller(teacher, student, cfg, torch.zeros(1, 1, 8, 8))
    cached.prepare(train_split, augment=False)
    live = Distiller(teacher, student, cfg.model_copy(update={"cache_teacher": False}), torch.zeros(1, 1, 8, 8))
    live.prepare(train_split, augment=False)
    assert cached.teacher_logits_mode == "cached" and live.teacher_logits_mode == "live"
    idx = torch.arange(10, 42)
    xb = torch.from_numpy(x[idx.numpy()])
    logits_c, feats_c = cached._teacher_outputs(idx, xb)
    logits_l, feats_l = live._teacher_outputs(idx, xb)
    torch.testing.assert_close(logits_c, logits_l, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats_c[0], feats_l[0], atol=1e-2, rtol=1e-2)  # fp16 cache


@pytest.mark.parametrize("method", ["fitnets", "at", "rkd"])
def test_auto_beta_balances_the_method_against_the_logit_terms(digits, teacher, method):
    x = torch.from_numpy(digits[0].inputs()[:32])
    labels = torch.from_numpy(digits[0].labels[:32]).long()
    student = _student()
    cfg = DistillConfig(method=method, layers=PAIRS, alpha=0.0, balance=0.25)  # beta: auto is the default
    distiller = Distiller(teacher, student, cfg, torch.zeros(1, 1, 8, 8))
    idx = torch.arange(32)
    for _ in range(AUTO_BATCHES):
        _, parts = distiller.loss(student(x), labels, idx, x, epoch=2)  # after FitNets' hint epoch
    # the same batch each time: beta x method loss = balance x cross entropy exactly
    assert parts["beta"] * parts[method] == pytest.approx(0.25 * parts["ce"], rel=1e-4)
    fixed = parts["beta"]
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(0.5)  # other losses now; beta stays what the first batches set
    assert distiller.loss(student(x), labels, idx, x, epoch=2)[1]["beta"] == fixed
    distiller.close()
    paper = Distiller(teacher, _student(), cfg.model_copy(update={"beta": "paper"}), torch.zeros(1, 1, 8, 8))
    assert paper.beta == METHODS_REGISTRY.get(method).default_beta
    paper.close()
    assert Distiller(teacher, _student(), cfg.model_copy(update={"beta": 7.0}), torch.zeros(1, 1, 8, 8)).beta == 7.0


def test_logit_methods_keep_their_published_weight_under_auto(teacher):
    dkd = Distiller(teacher, _student(), DistillConfig(method="dkd"), torch.zeros(1, 1, 8, 8))
    assert not dkd.auto and dkd.beta == 1.0


def test_weak_teacher_guard_acts_only_on_a_lead_outside_the_noise(digits, teacher):
    x = torch.from_numpy(digits[0].inputs()[:32])
    labels = torch.from_numpy(digits[0].labels[:32]).long()
    cfg = DistillConfig(method="kd", alpha=0.9, temperature=4.0, weak_teacher_decay=0.5)
    distiller = Distiller(teacher, _student(), cfg, torch.zeros(1, 1, 8, 8), teacher_accuracy=80.0)
    distiller.end_epoch(1, None)  # no comparison (the student is behind): nothing changes
    distiller.end_epoch(2, {"epoch": 2, "difference": 0.0, "low": -1.4, "high": 1.4, "images": 143})  # a tie
    assert distiller.teacher_weight == 1.0 and distiller.guard_summary() is None
    ahead = {"epoch": 3, "difference": 4.2, "low": 1.1, "high": 7.0, "images": 143}
    distiller.end_epoch(3, ahead)
    distiller.end_epoch(4, {**ahead, "epoch": 4})
    assert distiller.guard_summary() == {"teacher_val": 80.0, "epochs": [3, 4], "weight": 0.25, "evidence": ahead}
    loss, parts = distiller.loss(_student()(x), labels, torch.arange(32), x, epoch=5)
    alpha = 0.9 * 0.25  # the KD share shrank, the cross entropy's grew
    assert loss.item() == pytest.approx((1 - alpha) * parts["ce"] + alpha * parts["kd"], rel=1e-5)
    off = Distiller(teacher, _student(), cfg.model_copy(update={"weak_teacher_decay": 1.0}), torch.zeros(1, 1, 8, 8),
                    teacher_accuracy=10.0)
    assert off.compare_with_teacher(1, 99.0, _student(), digits[1], CLASSIFICATION) is None


def test_the_guard_compares_image_by_image(digits, teacher):
    """The same model against itself is a tie with a zero-width interval; a lead needs evidence."""
    _, val_split = digits
    distiller = Distiller(teacher, _student(), DistillConfig(method="kd"), torch.zeros(1, 1, 8, 8),
                          teacher_accuracy=accuracy(teacher, val_split))
    tie = distiller.compare_with_teacher(1, distiller.teacher_accuracy, teacher, val_split, CLASSIFICATION)
    assert tie["difference"] == tie["low"] == tie["high"] == 0.0 and tie["images"] == len(val_split)
    distiller.end_epoch(1, tie)
    assert distiller.teacher_weight == 1.0
    distiller.close()


def test_paired_difference_by_hand():
    value_of = meter_value(CLASSIFICATION, 10)
    teacher = np.array([[1, 1]] * 90 + [[0, 1]] * 10)  # 90 of 100 right
    one_better = teacher.copy()
    one_better[90] = [1, 1]  # one more image right: 91 vs 90, inside the noise
    found = paired_difference(one_better, teacher, value_of)
    assert found.point == pytest.approx(1.0) and found.low <= 0 < found.high
    all_better = np.array([[1, 1]] * 100)  # every one of the teacher's 10 misses right: 100 vs 90
    found = paired_difference(all_better, teacher, value_of)
    assert found.point == pytest.approx(10.0) and 0 < found.low < found.point < found.high


def test_weak_teacher_guard_fires_in_training(digits):
    """An untrained teacher (near chance) is overtaken measurably in the first epoch: its weight halves every
    epoch after, and the evidence is recorded."""
    train_split, val_split = digits
    student = _student()
    weak = build_model("cifar_resnet8", 10, 1, 8, {"width": 8}).eval()
    distiller = Distiller(weak, student, DistillConfig(method="kd"), torch.zeros(1, 1, 8, 8),
                          teacher_accuracy=accuracy(weak, val_split))
    history = train(student, train_split, val_split, TrainConfig(epochs=2, lr=0.01, optimizer="adam"), seed=0,
                    distiller=distiller)
    distiller.close()
    assert [row["teacher_weight"] for row in history] == [0.5, 0.25]
    summary = distiller.guard_summary()
    assert summary["epochs"] == [1, 2] and summary["evidence"]["low"] > 0


def test_cosine_beta_schedule_fades_the_method_term(digits, teacher):
    x = torch.from_numpy(digits[0].inputs()[:32])
    labels = torch.from_numpy(digits[0].labels[:32]).long()
    student = _student()
    cfg = DistillConfig(method="at", layers=PAIRS, alpha=0.0, beta=10.0, beta_schedule="cosine")
    distiller = Distiller(teacher, student, cfg, torch.zeros(1, 1, 8, 8))
    distiller.epochs = 4
    weights = []
    for epoch in (1, 2, 3, 4):
        loss, parts = distiller.loss(student(x), labels, torch.arange(32), x, epoch)
        weights.append((loss.item() - parts["ce"]) / parts["at"])
        assert parts["beta"] == 10.0  # the stated beta; the schedule scales the term
    assert weights == pytest.approx([10.0, 10 * (1 + math.cos(math.pi / 4)) / 2, 5.0,
                                     10 * (1 + math.cos(3 * math.pi / 4)) / 2], rel=1e-4)
    distiller.close()


def test_a_student_behind_its_scratch_curve_adapts_its_distillation_while_it_trains(digits, teacher):
    from edgeship.pipeline.distillation.adapt import Reference

    train_split, val_split = digits
    student = _student()
    # a scratch curve far above anything 4 epochs reach: every epoch is measurably behind it
    distiller = Distiller(teacher, student, DistillConfig(method="kd"), torch.zeros(1, 1, 8, 8),
                          reference=Reference((100.0,) * 4, images=len(val_split)))
    history = train(student, train_split, val_split, TrainConfig(epochs=4, lr=0.01, optimizer="adam"), seed=0,
                    distiller=distiller)
    distiller.close()
    adapted = distiller.adaptation_summary()
    # each step trains the epoch again from where it began; still behind, the next step: all four at epoch 1
    assert [a["action"] for a in adapted["actions"]] == ["alpha", "temperature", "dist", "teacher off"]
    assert [a["epoch"] for a in adapted["actions"]] == [1, 1, 1, 1]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4] and distiller.temperature == 2.0
    # what the loss computes after the last step: labels alone (the teacher is off)
    x, labels = torch.from_numpy(train_split.inputs()[:32]), torch.from_numpy(train_split.labels[:32]).long()
    student.train()
    logits = student(x)
    loss, parts = distiller.loss(logits, labels, torch.arange(32), x, epoch=5)
    assert parts["kd"] == 0.0 and loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())
    # one step earlier, the logit term was DIST's correlation loss at the halved temperature, weighted 0.5
    distiller.adaptation.teacher_on = True
    loss, parts = distiller.loss(logits, labels, torch.arange(32), x, epoch=5)
    with torch.no_grad():
        expected = dist_loss(logits, teacher(x), 2.0).item()
    assert parts["kd"] == pytest.approx(expected, rel=1e-4)


def test_a_pinned_recipe_is_not_adapted(digits, teacher):
    from edgeship.pipeline.distillation.adapt import Reference

    distiller = Distiller(teacher, _student(), DistillConfig(method="kd", adapt=False), torch.zeros(1, 1, 8, 8),
                          reference=Reference((100.0,), images=100))
    assert distiller.adaptation_summary() is None
