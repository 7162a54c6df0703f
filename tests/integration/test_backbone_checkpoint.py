"""Pretrained backbones for segmentation models from local files: a classification checkpoint (torchvision's
MobileNetV3 / ResNet layout) goes into the segmentation model's backbone; a file for another backbone, or a
model without one, is one clear error."""
from __future__ import annotations

import pytest
import torch
import torchvision

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.models.checkpoints import load_backbone
from edgeship.pipeline.models.zoo import build_model


def test_mobilenet_weights_fill_the_lraspp_backbone_and_a_grey_stem(tmp_path):
    classifier = torchvision.models.mobilenet_v3_large(weights=None)
    path = tmp_path / "mobilenet_v3_large.pt"
    torch.save(classifier.state_dict(), path)
    model = build_model("lraspp_mobilenet_v3_large", 5, 1, 64, {})
    loaded = load_backbone(path, model, "teacher.backbone_checkpoint")
    backbone = model.model.backbone
    assert loaded == len(backbone.state_dict())
    assert torch.equal(backbone.state_dict()["4.block.0.0.weight"], classifier.features[4].block[0][0].weight)
    # the RGB stem summed over its input channels for the one grey channel
    assert torch.allclose(backbone.state_dict()["0.0.weight"], classifier.features[0][0].weight.sum(1, keepdim=True))


def test_a_checkpoint_of_another_backbone_or_a_model_without_one_is_refused(tmp_path):
    path = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(EdgeshipError, match="fits only 0 of the backbone's"):
        load_backbone(path, build_model("lraspp_mobilenet_v3_large", 5, 3, 64, {}), "student.backbone_checkpoint")
    with pytest.raises(EdgeshipError, match="no backbone module"):
        load_backbone(path, build_model("unet", 5, 1, 32, {"width": 4}), "student.backbone_checkpoint")
