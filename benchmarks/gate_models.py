"""Model variants for benchmarks/gate_power.py: a CIFAR ResNet-20 (width 16, about 0.7 ms in onnxruntime here)
and the same network with real extra work, the kind of change a pull request makes. Each of its nine residual
blocks costs about the same (channels double as the feature map quarters), so one more block in the last stage
adds about a ninth of the compute; a block of 1x1 convolutions adds less. The slowdown each variant really
causes is measured by the benchmark itself, never assumed from these counts."""
from __future__ import annotations

from torch import nn

from edgeship.pipeline.models.zoo import BasicBlock, CifarResNet


class PointwiseBlock(nn.Module):
    """A residual block of two 1x1 convolutions: about a ninth of a 3x3 block's work."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x):
        return nn.functional.relu(x + self.body(x))


def resnet(num_classes: int, in_channels: int, image_size: int, extra_blocks: int = 0, pointwise: int = 0):
    """ResNet-20 width 16 with `extra_blocks` more 3x3 blocks and `pointwise` 1x1 blocks in its last stage."""
    model = CifarResNet(20, num_classes, in_channels, 16)
    channels = 64
    model.layer3 = nn.Sequential(*model.layer3, *[BasicBlock(channels, channels, 1) for _ in range(extra_blocks)],
                                 *[PointwiseBlock(channels) for _ in range(pointwise)])
    return model
