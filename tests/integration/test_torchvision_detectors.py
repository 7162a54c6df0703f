"""torchvision's FCOS split at its head: its checkpoints load, its boxes are torchvision's own, and the split
graph exports to every runtime with the same boxes."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.formats.parity import check_parity
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.tasks.detection import DETECTION, fcos_loss
from edgeship.targets.agent.detections import point_grid


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


def test_a_coco_checkpoint_of_another_class_count_loads_with_a_fresh_class_layer(tmp_path):
    from torchvision.models.detection import fcos_resnet50_fpn

    from edgeship.pipeline.models.checkpoints import load_checkpoint

    path = tmp_path / "fcos_coco.pt"
    torch.save(fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict(), path)
    model = build_model("fcos_resnet50_fpn", 4, 3, 64, {})
    replaced = load_checkpoint(path, model, "teacher.checkpoint", num_classes=4)
    assert replaced == ["head.classification_head.cls_logits.bias", "head.classification_head.cls_logits.weight"]


def test_the_loss_trains_a_grey_input_resnet18_fcos():
    model = build_model("fcos_resnet18_fpn", 10, 1, 64, {"num_convs": 1})
    loss = fcos_loss(model(torch.zeros(2, 1, 64, 64)), [torch.tensor([[1, 10, 10, 30, 30.0]]), torch.zeros(0, 5)])
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.body.conv1.weight.grad is not None
    assert model.feature_layers() == [f"backbone.fpn.layer_blocks.{i}" for i in range(3)]


@pytest.mark.parametrize("method", ["head-kd", "pkd"])
def test_a_torchvision_fcos_teacher_distills_the_built_in_detector(method):
    """Teacher and student of different types: the heads share the point layout (head-kd), the FPN levels are
    paired by their names and aligned 256 -> 8 channels (pkd)."""
    from edgeship.pipeline.config.recipe import DataConfig
    from edgeship.pipeline.data.datasets import load_dataset
    from tests.support.detection_runs import distill_one_epoch

    data = load_dataset(DataConfig(source="objects", image_size=64, mean=[0.2], std=[0.3], scenes={"count": 40}))
    teacher = build_model("fcos_resnet18_fpn", 10, 1, 64, {"num_convs": 1}).eval()
    history, distiller = distill_one_epoch(teacher, build_model("fcos_tiny", 10, 1, 64, {"width": 4}), method, data)
    assert history[-1][method] > 0 and np.isfinite(history[-1]["loss"])
    assert len(distiller.pairs) == (3 if method == "pkd" else 0)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "openvino"])
def test_the_split_graph_exports_with_the_same_boxes(fmt, tmp_path):
    torch.manual_seed(0)
    model = build_model("fcos_resnet18_fpn", 3, 3, 64, {"num_convs": 1}).eval()
    torch.nn.init.constant_(model.head.classification_head.cls_logits.bias, 2.0)  # confident boxes to compare,
    torch.nn.init.constant_(model.head.regression_head.bbox_reg.bias, 1.0)         # each a stride or two wide
    backend = FORMATS.get(fmt)
    name = backend.export(model, torch.zeros(1, 3, 64, 64), tmp_path, 17)
    inputs = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    parity = check_parity(model, fmt, tmp_path / name, inputs, DETECTION)
    assert parity["agreement"] >= 99.0, parity
