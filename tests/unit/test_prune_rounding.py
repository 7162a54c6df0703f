"""prune.round_to: the channels a layer keeps are a multiple of it where that many remain, so pruning does not
leave CPU kernels a ragged last block (33 of 64 channels ran as slowly as 64 in onnxruntime int8); a layer that
would keep fewer keeps its ratio's count, never none (Torch-Pruning's own rounding empties it)."""
import torch
from torch import nn

from edgeship.pipeline.config.recipe import PruneConfig
from edgeship.pipeline.stages.prune import aligned_kept, make_pruner, prune_step


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 12, 3), nn.BatchNorm2d(12),
                         nn.ReLU(), nn.Conv2d(12, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(6, 10))


def _kept(round_to: int, ratio: float) -> list[int]:
    torch.manual_seed(0)
    model = _net()
    cfg = PruneConfig(ratio=ratio, round_to=round_to)
    prune_step(make_pruner(model, torch.randn(1, 1, 16, 16), cfg, 10), model, cfg)
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 10)
    return [m.out_channels for m in model if isinstance(m, nn.Conv2d)]


def test_kept_channels_round_down_to_the_multiple_where_that_many_remain():
    assert _kept(8, 0.3) == [40, 8, 4]   # 64 -> 44 -> 40; 12 -> 8; 6 -> 4 stays 4, not 0
    assert _kept(1, 0.3) == [44, 8, 4]   # round_to 1: the ratio's count as Torch-Pruning takes it (int(64 * 0.7))
    assert [aligned_kept(k, 8) for k in (7, 8, 15, 16, 33)] == [7, 8, 8, 16, 32]
