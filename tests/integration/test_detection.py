"""Detection's first path: the built-in objects source, the FCOS-style detector, its loss and COCO mAP by
pycocotools, post-processed by the device agent's numpy code."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.data.objects import FOREGROUND
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.tasks.detection import DETECTION, coco_map, fcos_loss
from edgeship.pipeline.training.loop import evaluate, train
from edgeship.targets.agent.anchors import anchor_grid
from edgeship.targets.agent.detections import STRIDES, decode, head_side, input_size, nms, point_grid


def objects(count=120, size=64, **data):
    return load_dataset(DataConfig(source="objects", image_size=size, mean=[0.2], std=[0.3],
                                   scenes={"count": count}, **data))


def test_objects_have_exact_boxes_inside_the_canvas_and_are_the_same_for_a_seed():
    data = objects()
    images, boxes = data.train.arrays()
    assert images.shape[1:] == (1, 64, 64) and len(boxes.offsets) == len(images) + 1
    rows = boxes.flat
    assert len(rows) >= len(images) and set(np.unique(rows[:, 0])) <= set(range(10))
    assert (rows[:, 1] >= 0).all() and (rows[:, 3] <= 64).all() and (rows[:, 3] > rows[:, 1]).all()
    for n in range(10):  # tight: every box edge touches a foreground pixel, nothing bright outside the boxes
        mask = np.zeros((64, 64), bool)
        for _, x1, y1, x2, y2 in boxes.flat[boxes.offsets[n]:boxes.offsets[n + 1]].astype(int):
            inside = images[n, 0, y1:y2, x1:x2] >= FOREGROUND * 255
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            mask[y1:y2, x1:x2] = True
        assert (images[n, 0][~mask] <= 40).all()  # the canvas noise only
    again_images, again_boxes = objects().train.arrays()
    assert np.array_equal(images, again_images) and np.array_equal(rows, again_boxes.flat)


def test_augmented_objects_move_their_boxes_with_the_pixels():
    data = objects(count=60)
    torch.manual_seed(0)
    plain, augmented = data.train, data.train.for_training(augment=True, hflip=True, trivial_augment=False)
    assert plain.for_training(augment=False, hflip=True, trivial_augment=False) is plain
    changed = 0
    for n in range(20):
        image, rows, _ = augmented[n]
        assert image.shape == (1, 64, 64) and image.dtype == torch.uint8 and rows.shape[1] == 5
        assert (rows[:, 1:] >= 0).all() and (rows[:, 1:] <= 64).all() and (rows[:, 3] > rows[:, 1]).all()
        bright = image[0] >= FOREGROUND * 255
        for _, x1, y1, x2, y2 in rows.round().int().tolist():  # each box still holds its item's pixels
            assert bright[y1:y2, x1:x2].any()
        mask = torch.zeros(64, 64, dtype=torch.bool)
        for _, x1, y1, x2, y2 in rows.tolist():
            mask[max(int(y1) - 2, 0):int(y2) + 3, max(int(x1) - 2, 0):int(x2) + 3] = True
        assert not bright[~mask].any()  # and nothing bright is left outside them (a resize may blur a pixel)
        changed += not torch.equal(image, plain[n][0])
    assert changed >= 15
    batch = augmented.__getitems__([0, 1, 2])
    assert len(batch) == 3 and all(item[0].shape == (1, 64, 64) for item in batch)


def test_objects_refuse_a_canvas_that_is_not_the_model_size_in_one_line():
    with pytest.raises(EdgeshipError, match="data.scenes.canvas"):
        load_dataset(DataConfig(
            source="objects", image_size=64, scenes={"count": 60, "canvas": 96}))


def test_points_and_decoding_follow_the_head_layout():
    points, strides = point_grid(64)
    assert len(points) == 64 + 16 + 4 and input_size(len(points)) == 64
    assert tuple(points[0]) == (4.0, 4.0) and strides[-1] == 32
    logits = np.full((1, 3, len(points)), -20.0, np.float32)
    distances = np.zeros((1, 4, len(points)), np.float32)
    centerness = np.full((1, 1, len(points)), 20.0, np.float32)
    logits[0, 2, 9] = 20.0           # point (12, 12) on stride 8: class 2
    distances[0, :, 9] = [2, 3, 4, 5]
    found = decode([logits, distances, centerness])[0]
    assert found.shape == (1, 6)
    assert np.allclose(found[0], [10, 9, 16, 17, 1.0, 2], atol=1e-3)


def test_an_anchor_head_decodes_its_deltas_to_torchvisions_anchors():
    """Two outputs are an anchor head: 9 anchors a cell, centred at (x * stride, y * stride)."""
    anchors = anchor_grid(64, STRIDES)
    assert len(anchors) == 9 * (64 + 16 + 4) and head_side([np.zeros((1, 3, len(anchors)))] * 2) == 64
    assert np.array_equal(anchors[3], [-16, -16, 16, 16])  # cell (0, 0): ratio 1 (second), 32 px (first octave)
    logits = np.full((1, 3, len(anchors)), -20.0, np.float32)
    deltas = np.zeros((1, 4, len(anchors)), np.float32)
    logits[0, 1, 9 * 9 + 3] = 20.0                    # cell (1, 1) of stride 8, centre (8, 8), 32 px: class 1
    deltas[0, :, 9 * 9 + 3] = [0.25, 0.0, np.log(0.5), 0.0]  # moved 8 px right, half as wide
    found = decode([logits, deltas])[0]
    assert np.allclose(found, [[8, 0, 24, 24, 1.0, 1]], atol=1e-3)  # clipped to the image at the top
    with pytest.raises(ValueError, match="3 tensors"):
        head_side([logits])


def test_box_parity_counts_confident_boxes_either_side_misses():
    from edgeship.pipeline.tasks.detection import box_parity

    points, _ = point_grid(64)
    logits = np.full((1, 3, len(points)), -20.0, np.float32)
    distances = np.full((1, 4, len(points)), 4.0, np.float32)
    centerness = np.full((1, 1, len(points)), 20.0, np.float32)
    logits[0, 2, 9] = logits[0, 1, 30] = 20.0            # two confident boxes
    same = [logits, distances, centerness]
    nudged = [logits, distances + 0.2, centerness]          # boxes a little larger: still the same boxes
    missing = [logits.copy(), distances, centerness]
    missing[0][0, 1, 30] = -20.0                            # the file loses one box
    assert box_parity(same, same) == 100.0 and box_parity(same, nudged) == 100.0
    # torch's two boxes, one found in the file; the file's one box, found in torch: 2 of 3
    assert box_parity(same, missing) == pytest.approx(200 / 3)
    quiet = [np.full_like(logits, -20.0), distances, centerness]
    assert box_parity(quiet, quiet) == 100.0                # nothing confident on either side


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert list(nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5)) == [0, 2]


def _one_greedy_pass(boxes, scores, classes, iou, limit):
    """Class-aware greedy NMS pick by pick over all boxes (other classes moved apart): the earlier agent code,
    kept as the reference."""
    shifted = boxes.astype(np.float64) + classes[:, None] * 1000.0
    area = np.prod(shifted[:, 2:] - shifted[:, :2], axis=1)
    order, keep = np.argsort(-scores, kind="stable"), []
    while order.size and len(keep) < limit:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        low, high = np.maximum(shifted[best, :2], shifted[rest, :2]), np.minimum(shifted[best, 2:], shifted[rest, 2:])
        inter = np.prod(np.clip(high - low, 0, None), axis=1)
        order = rest[inter / np.maximum(area[best] + area[rest] - inter, 1e-9) <= iou]
    return keep


def test_classwise_nms_keeps_what_one_greedy_pass_keeps_in_its_order():
    rng = np.random.default_rng(0)
    for trial in range(60):
        count = int(rng.integers(0, 300))
        corner, size = rng.uniform(0, 128, (count, 2)), rng.uniform(1, 60, (count, 2))
        if trial % 3 == 0:  # equal boxes and equal scores: ties broken the same way
            corner, size = np.round(corner / 8) * 8, np.round(size / 8) * 8 + 1
        boxes = np.clip(np.concatenate([corner, corner + size], 1), 0, 128).astype(np.float32)
        scores = rng.uniform(0.05, 1.0, count).astype(np.float32)
        scores = np.round(scores, 1) if trial % 4 == 0 else scores
        classes = rng.integers(0, 5, count)
        expected = _one_greedy_pass(boxes, scores, classes, 0.6, 100)
        assert list(nms(boxes, scores, 0.6, 100, classes)) == expected, trial


def test_coco_map_is_100_for_the_truth_and_0_for_nothing():
    truths = [np.array([[1, 10, 10, 30, 40], [0, 40, 5, 60, 20]], np.float32), np.zeros((0, 5), np.float32)]
    perfect = [np.array([[10, 10, 30, 40, 0.9, 1], [40, 5, 60, 20, 0.8, 0]], np.float32), np.zeros((0, 6))]
    assert coco_map(truths, perfect, 2, 64)["map"] == pytest.approx(100.0)
    shifted = [np.array([[14, 10, 34, 40, 0.9, 1], [40, 5, 60, 20, 0.8, 0]], np.float32), np.zeros((0, 6))]
    partly = coco_map(truths, shifted, 2, 64)
    assert 50.0 < partly["map"] < 100.0 and partly["map50"] == pytest.approx(100.0)
    assert coco_map(truths, [np.zeros((0, 6))] * 2, 2, 64)["map"] == 0.0


def test_the_loss_is_finite_with_and_without_boxes_and_reaches_every_output():
    model = build_model("fcos_tiny", 10, 1, 64, {"width": 4})
    outputs = model(torch.randn(2, 1, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(2, 10, 84), (2, 4, 84), (2, 1, 84)]
    loss = fcos_loss(outputs, [torch.tensor([[3, 8, 8, 30, 34]], dtype=torch.float32), torch.zeros(0, 5)])
    loss.backward()
    assert torch.isfinite(loss) and model.box_distances.weight.grad.abs().sum() > 0
    assert model.centerness.weight.grad.abs().sum() > 0


@pytest.mark.slow  # six epochs on 540 canvases (about 25 s on 2 cores)
def test_a_small_detector_learns_the_objects():
    data = objects(count=600)
    torch.manual_seed(0)
    model = build_model("fcos_tiny", data.num_classes, 1, 64, {"width": 8})
    history = train(model, data.train, data.val, TrainConfig(epochs=6, batch_size=32, lr=0.002, optimizer="adam",
                                                             warmup_epochs=1.0), seed=0, task=DETECTION)
    assert history[-1]["loss"] < history[0]["loss"]
    scores = evaluate(model, data.test, DETECTION)
    assert scores["map50"] > 3.0 and len(scores["per_class_ap"]) == 10, scores  # untrained: 0.0


def test_pkd_distills_a_detector_on_its_fpn_levels():
    from edgeship.pipeline.config.recipe import DistillConfig
    from edgeship.pipeline.distillation.distiller import Distiller
    from edgeship.pipeline.distillation.methods.pkd import standardized

    feature = torch.randn(2, 3, 4, 4) * 5 + 7
    flat = standardized(feature).transpose(0, 1).flatten(1)
    assert torch.allclose(flat.mean(1), torch.zeros(3), atol=1e-5) and torch.allclose(flat.std(1), torch.ones(3))
    data = objects(count=160)
    teacher = build_model("fcos_tiny", 10, 1, 64, {"width": 8})
    train(teacher, data.train, None, TrainConfig(epochs=1, lr=0.002, optimizer="adam"), seed=0, task=DETECTION)
    student = build_model("fcos_tiny", 10, 1, 64, {"width": 4})
    before = student.stem[0][0].weight.detach().clone()
    levels = [{"teacher": f"smooth.{i}", "student": f"smooth.{i}"} for i in range(3)]
    distiller = Distiller(teacher.eval(), student, DistillConfig(method="pkd", alpha=0.0, layers=levels),
                          torch.zeros(1, 1, 64, 64), fcos_loss)
    history = train(student, data.train, None, TrainConfig(epochs=2, lr=0.002, optimizer="adam"), seed=0,
                    task=DETECTION, distiller=distiller)
    distiller.close()
    assert history[-1]["teacher_logits"] == "cached" and history[-1]["pkd"] > 0
    assert all(np.isfinite(row["loss"]) for row in history)
    assert not torch.equal(before, student.stem[0][0].weight)
    assert [tuple(p.align.weight.shape) for p in distiller.method_module.pairs] == [(16, 8, 1, 1)] * 3


@pytest.mark.parametrize("method", ["cwd", "imitation", "fgd"])
def test_cwd_imitation_and_fgd_distill_a_detector_on_its_fpn_levels(method):
    from tests.support.detection_runs import distill_one_epoch

    teacher = build_model("fcos_tiny", 10, 1, 64, {"width": 8}).eval()
    history, distiller = distill_one_epoch(teacher, build_model("fcos_tiny", 10, 1, 64, {"width": 4}), method,
                                           objects(count=80))
    module = distiller.method_module
    assert len(distiller.pairs) == 3 and len(getattr(module, "align", getattr(module, "pairs", []))) == 3
    assert history[-1][method] > 0 and np.isfinite(history[-1]["loss"])


def test_head_kd_is_zero_on_the_teachers_own_outputs_trains_a_student_and_refuses_another_layout():
    from edgeship.pipeline.config.recipe import DistillConfig
    from edgeship.pipeline.distillation.distiller import Distiller
    from edgeship.pipeline.distillation.methods.head_kd import HeadDistillation
    from tests.support.detection_runs import distill_one_epoch

    data = objects(count=80)
    teacher = build_model("fcos_tiny", 10, 1, 64, {"width": 8}).eval()
    train(teacher, data.train, None, TrainConfig(epochs=1, lr=0.002, optimizer="adam"), seed=0, task=DETECTION)
    method = HeadDistillation(DistillConfig(method="head-kd", alpha=0.0, options={"confident": 0.0, "boxes": 0.0}))
    with torch.no_grad():
        outputs = teacher.eval()(data.test.to_inputs(torch.stack([data.test[i][0] for i in range(4)])))
    assert method.loss(outputs, outputs, [], [], None, 1).item() == pytest.approx(0.0, abs=1e-6)  # classes
    other = tuple(torch.cat([o, o], 2) for o in outputs)  # a head of another layout
    with pytest.raises(EdgeshipError, match="distill.method: head-kd"):
        method.check_outputs(outputs, other)
    with pytest.raises(EdgeshipError, match="distill.method: head-kd"):  # before training: at the probe
        Distiller(teacher, build_model("fcos_tiny", 5, 1, 64, {"width": 4}), DistillConfig(method="head-kd"),
                  torch.zeros(1, 1, 64, 64), fcos_loss)
    history, distiller = distill_one_epoch(teacher, build_model("fcos_tiny", 10, 1, 64, {"width": 4}), "head-kd",
                                           data)
    assert history[-1]["head-kd"] > 0 and np.isfinite(history[-1]["loss"]) and not distiller.pairs


def test_imitation_masks_cover_the_boxes_at_each_level_and_leave_ignored_ones_out():
    from edgeship.pipeline.distillation.box_regions import box_masks, scale_masks

    rows = torch.tensor([[1, 8, 16, 24, 40, 0], [2, 40, 40, 64, 64, 1]], dtype=torch.float32)
    mask = box_masks([rows], 64, 8, 8, "cpu")[0, 0]  # stride 8
    assert mask[2:5, 1:3].eq(1).all() and mask.sum() == 6  # x 8-24 -> columns 1-2, y 16-40 -> rows 2-4
    tiny = box_masks([torch.tensor([[0, 30, 30, 31, 31]])], 64, 2, 2, "cpu")[0, 0]  # stride 32: one location
    assert tiny.sum() == 1 and tiny[0, 0] == 1
    fg, bg = scale_masks([rows], 64, 8, 8, "cpu")  # FGD: each box sums to 1, the background too
    assert fg.sum() == pytest.approx(1.0) and bg.sum() == pytest.approx(1.0) and (fg * bg).sum() == 0


def test_the_quantization_form_shares_no_weight_behind_a_batchnorm_and_computes_the_same():
    model = build_model("fcos_tiny", 10, 1, 64, {"width": 4}).eval()
    for tower in (model.cls_tower, model.box_tower):  # levels with different statistics, as after training
        for level, norms in enumerate(tower.norms):
            for norm in norms:
                norm.running_mean.fill_(0.1 * level)
                norm.running_var.fill_(1.0 + level)
    twin = model.quantization_form().eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(model(x), twin(x)))
    shared = twin.cls_tower.per_level[0][0].weight
    assert shared is not twin.cls_tower.per_level[1][0].weight and torch.equal(shared, model.cls_tower.convs[0].weight)


def test_a_detection_recipe_distills_fpn_levels_by_default_and_keeps_what_it_sets():
    from edgeship.pipeline.config.recipe import parse_recipe
    from edgeship.pipeline.distillation.distiller import Distiller

    raw = {"name": "d", "task": "detection", "data": {"source": "objects", "image_size": 64, "channels": 1},
           "teacher": {"arch": "fcos_tiny"}, "student": {"arch": "fcos_tiny", "args": {"width": 4}}}
    recipe = parse_recipe(raw)
    assert (recipe.distill.method, recipe.distill.alpha) == ("cwd", 0.0)
    assert parse_recipe({**raw, "distill": {"alpha": 0.2}}).distill.alpha == 0.2
    teacher, student = (build_model("fcos_tiny", 10, 1, 64, {"width": w}) for w in (8, 4))
    distiller = Distiller(teacher.eval(), student, recipe.distill, torch.zeros(1, 1, 64, 64), fcos_loss)
    assert [(p.teacher, p.student) for p in distiller.pairs] == [(f"smooth.{i}", f"smooth.{i}") for i in range(3)]
    distiller.close()


def test_objects_of_an_unknown_item_kind_are_refused_naming_the_field():
    from edgeship.pipeline.config.recipe import parse_recipe
    from tests.support.recipes import tiny_recipe_dict

    with pytest.raises(EdgeshipError, match="data.source.*digits or fashion-mnist items, not 'cifar'"):
        parse_recipe(tiny_recipe_dict(**{"task": "detection", "data.source": "objects:cifar"}))
