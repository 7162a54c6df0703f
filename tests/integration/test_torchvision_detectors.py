"""torchvision's FCOS and RetinaNet split at their heads: their checkpoints load, their boxes are torchvision's
own, and the split graphs export to every runtime with the same boxes."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.formats.parity import check_parity
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.tasks.detection import DETECTION, detection_loss
from edgeship.targets.agent.anchors import anchor_grid, delta_boxes
from edgeship.targets.agent.detections import STRIDES, point_grid


def test_a_torchvision_fcos_checkpoint_loads_and_gives_torchvisions_boxes():
    from torchvision.models.detection import fcos_resnet50_fpn

    full = fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=5).eval()
    split = build_model("fcos_resnet50_fpn", 5, 3, 64, {}).eval()
    split.load_state_dict(full.state_dict())  # P6/P7 left out, everything else matches
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        relative, _ = full.head.regression_head(list(full.backbone(x).values())[:3])
        classes, distances, _ = split(x)
    points, strides = (torch.from_numpy(a) for a in point_grid(64))
    anchor_centres = points - strides[:, None] / 2     # torchvision's anchors sit at i * stride
    theirs = torch.cat([anchor_centres - relative[0, :, :2] * strides[:, None],
                        anchor_centres + relative[0, :, 2:] * strides[:, None]], 1)
    ours = torch.cat([points - distances[0].T[:, :2], points + distances[0].T[:, 2:]], 1)
    assert classes.shape == (1, 5, len(points)) and torch.allclose(theirs, ours, atol=1e-4)


@pytest.mark.parametrize("arch", ["retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2"])
def test_a_torchvision_retinanet_checkpoint_gives_torchvisions_anchors_and_boxes(arch):
    from torchvision.models import detection
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    full = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=5).eval()
    split = build_model(arch, 5, 3, 64, {}).eval()
    split.load_state_dict(full.state_dict())  # P6/P7 left out, everything else matches
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        levels = list(full.backbone(x).values())[:3]
        theirs = full.head(levels)
        classes, deltas = split(x)
    generator = full.anchor_generator  # the same sizes and ratios, on the three levels kept
    anchors = AnchorGenerator(generator.sizes[:3], generator.aspect_ratios[:3])(ImageList(x, [(64, 64)]), levels)[0]
    assert np.array_equal(anchor_grid(64, STRIDES), anchors.numpy())
    assert torch.allclose(classes[0].T, theirs["cls_logits"][0], atol=1e-5)
    assert torch.allclose(deltas[0].T, theirs["bbox_regression"][0], atol=1e-5)
    boxes = full.box_coder.decode_single(theirs["bbox_regression"][0] * 40, anchors)  # deltas far from zero
    assert np.allclose(delta_boxes(deltas[0].numpy() * 40, anchors.numpy()), boxes.numpy(), atol=1e-3)


def test_the_anchor_loss_equals_torchvisions_retinanet_loss():
    from torchvision.models.detection import retinanet_resnet50_fpn

    from edgeship.pipeline.tasks.anchor_loss import anchor_loss

    torch.manual_seed(0)
    count = len(anchor_grid(64, STRIDES))
    classes, deltas = torch.randn(2, 5, count), torch.randn(2, 4, count) * 0.3
    rows = [torch.tensor([[1, 10, 10, 40, 40.0], [3, 30, 5, 60, 30]]), torch.tensor([[0, 5, 20, 25, 60.0]])]
    anchors = torch.from_numpy(anchor_grid(64, STRIDES))
    full = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=5)
    theirs = full.compute_loss([{"boxes": r[:, 1:5], "labels": r[:, 0].long()} for r in rows],
                               {"cls_logits": classes.transpose(1, 2), "bbox_regression": deltas.transpose(1, 2)},
                               [anchors, anchors])
    assert anchor_loss((classes, deltas), rows).item() == pytest.approx(sum(theirs.values()).item(), rel=1e-5)


def test_a_two_stage_detector_is_refused_by_name():
    with pytest.raises(EdgeshipError, match="fasterrcnn_mobilenet_v3_large_320_fpn.*RoIAlign"):
        build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 4, 3, 64, {})


def test_a_coco_checkpoint_of_another_class_count_loads_with_a_fresh_class_layer(tmp_path):
    from torchvision.models.detection import fcos_resnet50_fpn

    from edgeship.pipeline.models.checkpoints import load_checkpoint

    path = tmp_path / "fcos_coco.pt"
    torch.save(fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict(), path)
    model = build_model("fcos_resnet50_fpn", 4, 3, 64, {})
    replaced = load_checkpoint(path, model, "teacher.checkpoint", num_classes=4)
    assert replaced == ["head.classification_head.cls_logits.bias", "head.classification_head.cls_logits.weight"]


@pytest.mark.parametrize("arch", ["fcos_resnet18_fpn", "retinanet_resnet18_fpn"])
def test_the_loss_trains_a_grey_input_resnet18_detector(arch):
    model = build_model(arch, 10, 1, 64, {"num_convs": 1})
    crowd = torch.tensor([[2, 34, 34, 60, 60.0, 1]])  # ignored: neither taught nor taught as background
    targets = [torch.tensor([[1, 10, 10, 30, 30.0, 0]]), torch.zeros(0, 5), crowd]
    loss = detection_loss(model(torch.zeros(3, 1, 64, 64)), targets)
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.body.conv1.weight.grad is not None
    assert model.feature_layers() == [f"backbone.fpn.layer_blocks.{i}" for i in range(3)]


@pytest.mark.parametrize("teacher_arch, method", [("fcos_resnet18_fpn", "head-kd"), ("fcos_resnet18_fpn", "pkd"),
                                                   ("retinanet_resnet18_fpn", "pkd"),
                                                   ("retinanet_resnet18_fpn", "cwd")])
def test_a_torchvision_teacher_distills_the_built_in_detector(teacher_arch, method):
    """Teacher and student of different types: the heads share the point layout (head-kd), the FPN levels are
    paired by their names and aligned 256 -> 8 channels (pkd, cwd), whatever the teacher's head; an anchor
    teacher's class logits meet the point student's per location (cwd)."""
    from edgeship.pipeline.config.recipe import DataConfig
    from edgeship.pipeline.data.datasets import load_dataset
    from tests.support.detection_runs import distill_one_epoch

    data = load_dataset(DataConfig(source="objects", image_size=64, mean=[0.2], std=[0.3], scenes={"count": 40}))
    teacher = build_model(teacher_arch, 10, 1, 64, {"num_convs": 1}).eval()
    history, distiller = distill_one_epoch(teacher, build_model("fcos_tiny", 10, 1, 64, {"width": 4}), method, data)
    assert history[-1][method] > 0 and np.isfinite(history[-1]["loss"])
    assert len(distiller.pairs) == (0 if method == "head-kd" else 3)


def test_head_kd_refuses_an_anchor_teacher_for_a_point_student_in_one_line():
    from edgeship.pipeline.config.recipe import DistillConfig
    from edgeship.pipeline.distillation.methods.head_kd import HeadDistillation

    teacher = build_model("retinanet_resnet18_fpn", 10, 1, 64, {"num_convs": 1}).eval()
    student = build_model("fcos_tiny", 10, 1, 64, {"width": 4}).eval()
    x = torch.zeros(1, 1, 64, 64)
    with pytest.raises(EdgeshipError, match="distill.method: head-kd needs a teacher whose head"):
        HeadDistillation(DistillConfig(method="head-kd")).check_outputs(student(x), teacher(x))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["fcos_resnet18_fpn", "retinanet_resnet18_fpn"])
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "openvino"])
def test_the_split_graph_exports_with_the_same_boxes(fmt, arch, tmp_path):
    torch.manual_seed(0)
    model = build_model(arch, 3, 3, 64, {"num_convs": 1}).eval()
    bias = model.head.classification_head.cls_logits.bias
    torch.nn.init.constant_(bias, 2.0)  # confident boxes to compare, each a stride or two wide
    if arch.startswith("retinanet"):  # one anchor a cell for one class, shrunk to a stride: boxes NMS keeps apart
        bias.data.view(9, 3)[:] = -4.0
        bias.data.view(9, 3)[3, 0] = 2.0
        model.head.regression_head.bbox_reg.bias.data.view(9, 4)[:, 2:] = float(np.log(0.25))
        model.head.regression_head.bbox_reg.weight.data *= 0.1  # deltas near the biases
    else:
        torch.nn.init.constant_(model.head.regression_head.bbox_reg.bias, 1.0)
    backend = FORMATS.get(fmt)
    name = backend.export(model, torch.zeros(1, 3, 64, 64), tmp_path, 17)
    inputs = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    parity = check_parity(model, fmt, tmp_path / name, inputs, DETECTION)
    assert parity["agreement"] >= 99.0, parity
