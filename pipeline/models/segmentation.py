"""Segmentation models: a small UNet for tiny inputs, and torchvision's segmentation models (LR-ASPP, DeepLabV3,
FCN) with their dict output reduced to one (N, classes, H, W) tensor and the auxiliary head off, so that every
exporter sees a plain tensor-in, tensor-out graph."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Ronneberger et al. 2015, small: `depth` down steps (max-pool), each doubling `width`; up steps by bilinear
    upsampling (exports the same way to every runtime) and a skip connection; a 1x1 classifier per pixel."""

    def __init__(self, num_classes: int, in_channels: int, width: int = 16, depth: int = 3):
        super().__init__()
        widths = [width * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([_conv_block(in_channels, widths[0])] +
                                  [_conv_block(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([_conv_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))])
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.classifier(x)


class DenseOutput(nn.Module):
    """torchvision's segmentation models return {"out": ..., "aux": ...}; exporters and losses want the tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def torchvision_segmentation_names() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models.segmentation)


def torchvision_segmentation(name: str, num_classes: int, args: dict) -> nn.Module:
    import torchvision

    # weights=None always: pretrained backbones come from local files (checkpoint), never from a download
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=num_classes,
                                         aux_loss=False, **args)
    return DenseOutput(model)
