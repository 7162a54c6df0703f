"""torchvision's FCOS and RetinaNet split at their heads (archs `fcos_resnet50_fpn`, `retinanet_resnet50_fpn`,
`retinanet_resnet50_fpn_v2`, and `fcos_` / `retinanet_resnet18_fpn` / `_resnet34_fpn` on smaller ResNets):
torchvision's ResNet + FPN backbone and head, returning the raw head outputs. FCOS returns the built-in detector's
point layout (pipeline/models/detector.py: class logits (N, C, P), distances to the box sides in input pixels
(N, 4, P), centerness logits (N, 1, P), points of strides 8, 16 and 32); RetinaNet its anchor layout (class
logits, box deltas: targets/agent/anchors.py). Anchor decoding, thresholds and NMS stay outside the graph
(targets/agent/detections.py), so every runtime gets the same fixed-size graph and the same post-processing
(torch.export of whole torchvision detectors fails: pytorch#118884).

The FPN levels are P3-P5: torchvision's P6 and P7 serve 800-px COCO inputs, and at edge sizes they are a few
cells; a COCO checkpoint loads with its P6/P7 block left out (the head is shared by the levels, so every weight
it has still applies). FCOS's regression is relative to an anchor of the level's stride centred at (i * stride);
here the distances are in pixels from (i + 0.5) * stride, the built-in layout, by a fixed affine map inside the
graph. Faster R-CNN (RoIAlign between its stages) and SSD (default boxes, softmax) are refused by name.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from edgeship.targets.agent.anchors import ANCHORS_PER_CELL
from edgeship.targets.agent.detections import STRIDES

FCOS_BACKBONES = {"fcos_resnet50_fpn": "resnet50", "fcos_resnet34_fpn": "resnet34", "fcos_resnet18_fpn": "resnet18"}
RETINANET_BACKBONES = {"retinanet_resnet50_fpn": "resnet50", "retinanet_resnet50_fpn_v2": "resnet50",
                       "retinanet_resnet34_fpn": "resnet34", "retinanet_resnet18_fpn": "resnet18"}
BACKBONES = {**FCOS_BACKBONES, **RETINANET_BACKBONES}
# two-stage or default-box detectors that do not split into one fixed-size graph and a numpy decoder (yet)
NOT_SPLIT = {"fasterrcnn": "a two-stage detector: its second stage pools the first stage's proposals inside the "
                           "graph (RoIAlign), so it does not split into one fixed-size graph and a decoder",
             "maskrcnn": "a two-stage detector (RoIAlign between the stages) with masks",
             "keypointrcnn": "a two-stage detector (RoIAlign between the stages) with keypoints",
             "ssd": "its default boxes (SSD's generator, softmax with a background class) are not a layout the "
                    "device decoder has yet"}


class SplitDetector(nn.Module):
    """torchvision's ResNet + FPN backbone with the P3-P5 levels a split head reads; the stem takes the recipe's
    channels; torchvision's P6/P7 block (`backbone.fpn.extra_blocks.`) is left out of checkpoints."""
    checkpoint_leaves_out = ("backbone.fpn.extra_blocks.",)  # torchvision's P6/P7 block: not part of this graph

    def __init__(self, in_channels: int, backbone: str):
        super().__init__()
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

        # trainable BatchNorm (torchvision freezes it for fine-tuning from ImageNet; here it learns)
        self.backbone = resnet_fpn_backbone(backbone_name=backbone, weights=None, trainable_layers=5,
                                            returned_layers=[2, 3, 4], norm_layer=nn.BatchNorm2d)
        if in_channels != 3:  # the stem takes the recipe's channels
            old = self.backbone.body.conv1
            self.backbone.body.conv1 = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride,
                                                 old.padding, bias=False)

    def feature_layers(self) -> list[str]:
        """The FPN's P3-P5 outputs, finest first: the pairs feature distillation takes by default."""
        return [f"backbone.fpn.layer_blocks.{i}" for i in range(len(STRIDES))]

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.backbone(x).values())[:len(STRIDES)]  # P3-P5 (the max-pool level is not used)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """A torchvision checkpoint loads as it is: its P6/P7 block (not in this graph) is left out."""
        kept = {k: v for k, v in state_dict.items() if not k.startswith(self.checkpoint_leaves_out)}
        return super().load_state_dict(kept, strict=strict, assign=assign)


class TorchvisionFCOS(SplitDetector):
    def __init__(self, num_classes: int, in_channels: int = 3, backbone: str = "resnet50", num_convs: int = 4):
        super().__init__(in_channels, backbone)
        from torchvision.models.detection.fcos import FCOSHead

        self.head = FCOSHead(self.backbone.out_channels, num_anchors=1, num_classes=num_classes, num_convs=num_convs)
        # per level: torchvision's relative (l, t, r, b) x stride, shifted to the point at the cell's centre
        self.register_buffer("shift", torch.tensor([0.5, 0.5, -0.5, -0.5]).view(1, 4, 1), persistent=False)

    def output_layers(self) -> list[nn.Module]:
        """The prediction layers: pruning keeps their outputs, int8 keeps them float."""
        return [self.head.classification_head.cls_logits, self.head.regression_head.bbox_reg,
                self.head.regression_head.bbox_ctrness]

    def forward(self, x: torch.Tensor):
        cls_head, box_head = self.head.classification_head, self.head.regression_head
        classes, distances, centerness = [], [], []
        for feature, stride in zip(self.levels(x), STRIDES):
            classes.append(cls_head.cls_logits(cls_head.conv(feature)).flatten(2))
            box_feature = box_head.conv(feature)
            relative = torch.relu(box_head.bbox_reg(box_feature)).flatten(2)
            # a float stride: an int one becomes an int64 constant that LiteRT's int8 calibration cannot observe
            distances.append((relative + self.shift) * float(stride))
            centerness.append(box_head.bbox_ctrness(box_feature).flatten(2))
        return torch.cat(classes, 2), torch.cat(distances, 2), torch.cat(centerness, 2)


class TorchvisionRetinaNet(SplitDetector):
    """RetinaNet's head on P3-P5 (its anchors: targets/agent/anchors.py); `v2` is torchvision's
    retinanet_resnet50_fpn_v2 head (GroupNorm in its convolutions), the default but for retinanet_resnet50_fpn.
    Returns class logits (N, C, K) and box deltas (N, 4, K), K ordered level, row, column, anchor as torchvision
    orders them."""

    def __init__(self, num_classes: int, in_channels: int = 3, backbone: str = "resnet50", num_convs: int = 4,
                 v2: bool = False):
        super().__init__(in_channels, backbone)
        from torchvision.models.detection.retinanet import RetinaNetHead

        norm = partial(nn.GroupNorm, 32) if v2 else None
        self.head = RetinaNetHead(self.backbone.out_channels, ANCHORS_PER_CELL, num_classes, norm_layer=norm)
        for branch in (self.head.classification_head, self.head.regression_head):
            branch.conv = branch.conv[:num_convs]  # torchvision's four, or fewer for a cheaper head
        self.num_classes = num_classes

    def output_layers(self) -> list[nn.Module]:
        """The prediction layers: pruning keeps their outputs, int8 keeps them float."""
        return [self.head.classification_head.cls_logits, self.head.regression_head.bbox_reg]

    @staticmethod
    def _per_anchor(out: torch.Tensor, width: int) -> torch.Tensor:
        """(N, A * width, H, W) -> (N, width, H * W * A): torchvision's anchor order, no 5-D tensor."""
        n, _, h, w = out.shape
        return out.reshape(n, ANCHORS_PER_CELL, width, h * w).permute(0, 2, 3, 1).reshape(n, width, -1)

    def forward(self, x: torch.Tensor):
        cls_head, box_head = self.head.classification_head, self.head.regression_head
        classes, deltas = [], []
        for feature in self.levels(x):
            classes.append(self._per_anchor(cls_head.cls_logits(cls_head.conv(feature)), self.num_classes))
            deltas.append(self._per_anchor(box_head.bbox_reg(box_head.conv(feature)), 4))
        return torch.cat(classes, 2), torch.cat(deltas, 2)


def torchvision_detector(arch: str, num_classes: int, in_channels: int, args: dict) -> SplitDetector:
    if arch in FCOS_BACKBONES:
        return TorchvisionFCOS(num_classes, in_channels, backbone=BACKBONES[arch], **args)
    # the GroupNorm head unless the name is torchvision's v1 (whose checkpoints have none): from scratch at 128 px,
    # 8 epochs, ResNet-18, the v1 head reached 2.5 mAP50-95 where the GroupNorm head reached 43.9
    v2 = arch.endswith("_v2") or arch != "retinanet_resnet50_fpn"
    return TorchvisionRetinaNet(num_classes, in_channels, backbone=BACKBONES[arch], **{"v2": v2, **args})


def unsplit_reason(arch: str) -> str | None:
    """Why a torchvision detector of this name is not offered, or None."""
    return next((why for prefix, why in NOT_SPLIT.items() if arch.startswith(prefix)), None)
