"""ShuffleNetV2 made prunable by Torch-Pruning. torchvision's blocks shuffle channels with view / transpose / view,
which Torch-Pruning's dependency graph cannot map (ZeroDivisionError in its reshape index mapping), and a channel
that moves between the two halves ties every block of a stage to the next.

Each block's shuffle becomes a ChannelShuffle module (the same permutation as one autograd node), which the pruner
treats as a barrier: a layer of its own whose input and output channels are never pruned (a customized pruner that
prunes nothing, and an ignored layer). The layers whose outputs feed a shuffle (each branch's last 1x1 convolution)
keep their outputs too; what is pruned is each branch's inner width (the first 1x1 convolution's outputs and the
depthwise convolution after it), the stem and the last convolution: the block structure and every shuffle stay
valid.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.shufflenetv2 import InvertedResidual, channel_shuffle


class ChannelShuffle(nn.ChannelShuffle):
    """One autograd node in eager mode (what Torch-Pruning traces); torchvision's view / transpose / view while an
    exporter traces (the TorchScript ONNX exporter has no aten::channel_shuffle)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
            return channel_shuffle(x, self.groups)
        return super().forward(x)


class ShuffledBlock(InvertedResidual):
    """torchvision's InvertedResidual with its channel shuffle as a module (the same function, the same weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return self.shuffle(out)


def make_shuffles_explicit(model: nn.Module) -> nn.Module:
    """Every torchvision ShuffleNetV2 block in `model` shuffles through a ChannelShuffle module (in place)."""
    for module in model.modules():
        if type(module) is InvertedResidual:
            module.__class__ = ShuffledBlock
            module.add_module("shuffle", ChannelShuffle(2))
    return model


def shuffle_barriers(model: nn.Module) -> tuple[dict, list[nn.Module]]:
    """(Torch-Pruning's customized_pruners, the layers to ignore) that keep every channel shuffle whole."""
    import torch_pruning as tp

    class Barrier(tp.pruner.function.BasePruningFunc):
        """Prunes nothing; its input and output channels are separate (no dependency passes through)."""

        def prune_out_channels(self, layer, idxs):
            return layer

        def prune_in_channels(self, layer, idxs):
            return layer

        def get_out_channels(self, layer):
            return None

        def get_in_channels(self, layer):
            return None

    blocks = [m for m in model.modules() if isinstance(m, ShuffledBlock)]
    if not blocks:
        return {}, []
    kept = []
    for block in blocks:
        kept.append(block.shuffle)
        kept.append(block.branch2[5])  # the last 1x1 convolutions: their outputs are the shuffled channels
        if block.stride > 1:
            kept.append(block.branch1[2])
    return {ChannelShuffle: Barrier()}, kept
