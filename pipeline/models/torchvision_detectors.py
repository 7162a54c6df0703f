"""torchvision's FCOS split at its head (arch `fcos_resnet50_fpn`, and `fcos_resnet18_fpn` / `fcos_resnet34_fpn`
on smaller ResNets): torchvision's ResNet + FPN backbone and FCOSHead, returning the raw head outputs in the layout
of the built-in detector (pipeline/models/detector.py: class logits (N, C, P), distances to the box sides in input
pixels (N, 4, P), centerness logits (N, 1, P), points of strides 8, 16 and 32). Anchor decoding, thresholds and
NMS stay outside the graph (targets/agent/detections.py), so every runtime gets the same fixed-size graph and the
same post-processing (torch.export of whole torchvision detectors fails: pytorch#118884).

The FPN levels are P3-P5: torchvision's P6 and P7 serve 800-px COCO inputs, and at edge sizes they are a few
cells; a COCO checkpoint of fcos_resnet50_fpn loads with its P6/P7 block left out (the head is shared by the
levels, so every weight it has still applies). torchvision's regression is relative to an anchor of the level's
stride centred at (i * stride); here the distances are in pixels from (i + 0.5) * stride, the built-in layout, by
a fixed affine map inside the graph.
"""
from __future__ import annotations

import torch
from torch import nn

from edgeship.targets.agent.detections import STRIDES

BACKBONES = {"fcos_resnet50_fpn": "resnet50", "fcos_resnet34_fpn": "resnet34", "fcos_resnet18_fpn": "resnet18"}


class TorchvisionFCOS(nn.Module):
    checkpoint_leaves_out = ("backbone.fpn.extra_blocks.",)  # torchvision's P6/P7 block: not part of this graph
    def __init__(self, num_classes: int, in_channels: int = 3, backbone: str = "resnet50", num_convs: int = 4):
        super().__init__()
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
        from torchvision.models.detection.fcos import FCOSHead

        # trainable BatchNorm (torchvision freezes it for fine-tuning from ImageNet; here it learns)
        self.backbone = resnet_fpn_backbone(backbone_name=backbone, weights=None, trainable_layers=5,
                                            returned_layers=[2, 3, 4], norm_layer=nn.BatchNorm2d)
        if in_channels != 3:  # the stem takes the recipe's channels
            old = self.backbone.body.conv1
            self.backbone.body.conv1 = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride,
                                                 old.padding, bias=False)
        channels = self.backbone.out_channels
        self.head = FCOSHead(channels, num_anchors=1, num_classes=num_classes, num_convs=num_convs)
        # per level: torchvision's relative (l, t, r, b) x stride, shifted to the point at the cell's centre
        self.register_buffer("shift", torch.tensor([0.5, 0.5, -0.5, -0.5]).view(1, 4, 1), persistent=False)

    def output_layers(self) -> list[nn.Module]:
        """The prediction layers: pruning keeps their outputs, int8 keeps them float."""
        return [self.head.classification_head.cls_logits, self.head.regression_head.bbox_reg,
                self.head.regression_head.bbox_ctrness]

    def feature_layers(self) -> list[str]:
        """The FPN's P3-P5 outputs, finest first: the pairs feature distillation takes by default."""
        return [f"backbone.fpn.layer_blocks.{i}" for i in range(len(STRIDES))]

    def forward(self, x: torch.Tensor):
        features = list(self.backbone(x).values())[:len(STRIDES)]  # P3-P5 (the max-pool level is not used)
        cls_head, box_head = self.head.classification_head, self.head.regression_head
        classes, distances, centerness = [], [], []
        for feature, stride in zip(features, STRIDES):
            classes.append(cls_head.cls_logits(cls_head.conv(feature)).flatten(2))
            box_feature = box_head.conv(feature)
            relative = torch.relu(box_head.bbox_reg(box_feature)).flatten(2)
            # a float stride: an int one becomes an int64 constant that LiteRT's int8 calibration cannot observe
            distances.append((relative + self.shift) * float(stride))
            centerness.append(box_head.bbox_ctrness(box_feature).flatten(2))
        return torch.cat(classes, 2), torch.cat(distances, 2), torch.cat(centerness, 2)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """A torchvision FCOS checkpoint loads as it is: its P6/P7 block (not in this graph) is left out."""
        kept = {k: v for k, v in state_dict.items() if not k.startswith(self.checkpoint_leaves_out)}
        return super().load_state_dict(kept, strict=strict, assign=assign)


def torchvision_fcos(arch: str, num_classes: int, in_channels: int, args: dict) -> TorchvisionFCOS:
    return TorchvisionFCOS(num_classes, in_channels, backbone=BACKBONES[arch], **args)
