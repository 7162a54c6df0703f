"""A small anchor-free detector that trains on 2 cores (arch `fcos_tiny`): a CNN backbone, an FPN over strides 8,
16 and 32, and one FCOS-style head shared by the levels (Tian et al., ICCV 2019: per point a score per class, the
distances to the box's four sides, and a centerness).

It returns the raw head outputs as three tensors, never concatenated (boxes and scores need scales of their own
in int8), classes on axis 1: class logits (N, C, P), distances (N, 4, P) in input pixels, centerness logits
(N, 1, P). Decoding, thresholds and NMS are post-processing (targets/agent/detections.py), outside the graph.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from edgeship.targets.agent.detections import STRIDES

PRIOR = 0.01  # the class bias starts every point at this probability (focal loss practice: no early flood)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SharedTower(nn.Module):
    """Convolutions shared by every level, BatchNorm per level (as EfficientDet's heads): one BatchNorm over all
    levels mixes their statistics, so eval mode (running statistics) scored far below train mode. Per level, each
    BatchNorm folds into its convolution at export."""

    def __init__(self, channels: int, depth: int, levels: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, 1, 1, bias=False) for _ in range(depth))
        self.norms = nn.ModuleList(nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(depth))
                                   for _ in range(levels))

    def forward(self, x: torch.Tensor, level: int) -> torch.Tensor:
        convs = self.per_level[level] if hasattr(self, "per_level") else self.convs
        for conv, norm in zip(convs, self.norms[level]):
            x = F.relu(norm(conv(x)))
        return x

    def unshare(self) -> None:
        """A copy of the convolutions for every level (the same weights, separate tensors): PT2E folds each
        BatchNorm into its convolution's weight in place, and with one weight behind three BatchNorms the folds
        piled up (LiteRT int8: 0.07 mAP against 10.05 in fp32)."""
        self.per_level = nn.ModuleList(copy.deepcopy(self.convs) for _ in self.norms)


class TinyFCOS(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16, fpn: int | None = None):
        super().__init__()
        fpn = fpn or 2 * width
        self.stem = nn.Sequential(_conv(in_channels, width, 2), _conv(width, width))          # stride 2
        self.stage1 = nn.Sequential(_conv(width, 2 * width, 2), _conv(2 * width, 2 * width))  # 4
        self.stage2 = nn.Sequential(_conv(2 * width, 4 * width, 2), _conv(4 * width, 4 * width))  # 8
        self.stage3 = nn.Sequential(_conv(4 * width, 8 * width, 2), _conv(8 * width, 8 * width))  # 16
        self.stage4 = nn.Sequential(_conv(8 * width, 8 * width, 2), _conv(8 * width, 8 * width))  # 32
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn, 1) for c in (4 * width, 8 * width, 8 * width))
        self.smooth = nn.ModuleList(_conv(fpn, fpn) for _ in STRIDES)
        self.cls_tower = SharedTower(fpn, 2, len(STRIDES))
        self.box_tower = SharedTower(fpn, 2, len(STRIDES))
        self.cls_logits = nn.Conv2d(fpn, num_classes, 3, 1, 1)
        self.box_distances = nn.Conv2d(fpn, 4, 3, 1, 1)
        self.centerness = nn.Conv2d(fpn, 1, 3, 1, 1)
        self.scales = nn.Parameter(torch.ones(len(STRIDES)))
        nn.init.constant_(self.cls_logits.bias, -torch.log(torch.tensor((1 - PRIOR) / PRIOR)).item())

    def quantization_form(self) -> "TinyFCOS":
        """The same function with no weight shared by layers that a BatchNorm follows (for PT2E's BN folding)."""
        twin = copy.deepcopy(self)
        twin.cls_tower.unshare()
        twin.box_tower.unshare()
        return twin

    def output_layers(self) -> list[nn.Module]:
        """The prediction layers: pruning keeps their outputs (pipeline/models/heads.py)."""
        return [self.cls_logits, self.box_distances, self.centerness]

    def pruning_unwrapped(self) -> list[tuple[nn.Parameter, int]]:
        """The per-level box scales: one per level, nothing a channel count depends on."""
        return [(self.scales, 0)]

    def feature_layers(self) -> list[str]:
        """The FPN levels' module names, finest first: the pairs feature distillation takes by default."""
        return [f"smooth.{i}" for i in range(len(self.smooth))]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The FPN levels, finest first (what feature distillation pairs)."""
        c3 = self.stage2(self.stage1(self.stem(x)))
        c4 = self.stage3(c3)
        c5 = self.stage4(c4)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        return [smooth(p) for smooth, p in zip(self.smooth, (p3, p4, p5))]

    def forward(self, x: torch.Tensor):
        classes, distances, centerness = [], [], []
        for level, (feature, stride) in enumerate(zip(self.features(x), STRIDES)):
            cls_features, box_features = self.cls_tower(feature, level), self.box_tower(feature, level)
            classes.append(self.cls_logits(cls_features).flatten(2))
            # a float stride: an int one becomes an int64 constant that LiteRT's int8 calibration cannot observe
            distance = F.relu(self.scales[level] * self.box_distances(box_features)) * float(stride)
            distances.append(distance.flatten(2))
            centerness.append(self.centerness(box_features).flatten(2))
        return torch.cat(classes, 2), torch.cat(distances, 2), torch.cat(centerness, 2)
