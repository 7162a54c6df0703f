"""BatchNorm whose batch statistics span every rank, on CPUs.

With DistributedDataParallel each rank normalises its own shard of the global batch, so two processes train
a different model from one process (the per-shard mean and variance are noisier, and the running statistics
are rank 0's alone). torch.nn.SyncBatchNorm fixes that on GPUs only; this does the same on gloo: the training
forward of every BatchNorm layer sums its per-channel statistics over the ranks, and the backward sums their
gradients, so the step equals the one-process step on the whole batch. The layers stay the model's own
BatchNorm modules (only their forward is swapped while training), so checkpoints and exports do not change.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_GROUP: list = []


def _group():
    """A process group of its own, so these collectives never interleave with DDP's gradient buckets."""
    if not _GROUP:
        _GROUP.append(dist.new_group(backend="gloo"))
    return _GROUP[0]


class _SumOverRanks(torch.autograd.Function):
    """all_reduce(SUM) with a gradient: each rank's input reaches every rank's output."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        # CUDA tensors go through the default group (NCCL on a GPU machine); CPU ones through a gloo group of
        # their own
        dist.all_reduce(total, group=None if total.is_cuda else _group())
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total, group=None if total.is_cuda else _group())
        return total


class Shard:
    """What the layers must know of the current global batch: its number of samples, and whether this rank's
    samples count in it (a weight-0 stand-in sample does not)."""

    samples = 0
    counts = True


def _synced_forward(bn: _BatchNorm, shard: Shard, x: torch.Tensor) -> torch.Tensor:
    if not bn.training:
        return type(bn).forward(bn, x)
    dims = [0, *range(2, x.dim())]
    keep = 1.0 if shard.counts else 0.0
    # One collective per layer and direction: sum and sum of squares together, in float64 so that
    # E[x^2] - E[x]^2 loses nothing a two-pass variance would keep.
    wide = x.double()
    sums = _SumOverRanks.apply(torch.cat([wide.sum(dims), (wide * wide).sum(dims)]) * keep)
    count = shard.samples * (x.numel() // (x.shape[0] * x.shape[1]))
    mean64, square64 = sums.split(x.shape[1])
    mean64 = mean64 / count
    var = (square64 / count - mean64 * mean64).clamp(min=0).to(x.dtype)
    mean = mean64.to(x.dtype)
    if bn.track_running_stats and bn.running_mean is not None:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            bn.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(var.detach() * count / max(count - 1, 1), alpha=factor)
    shape = [1, -1] + [1] * (x.dim() - 2)
    out = (x - mean.view(shape)) * torch.rsqrt(var + bn.eps).view(shape)
    if bn.affine:
        out = out * bn.weight.view(shape) + bn.bias.view(shape)
    return out


@contextmanager
def synced_batchnorm(*modules: nn.Module) -> Iterator[Shard]:
    """While inside, the BatchNorm layers of `modules` normalise over the whole global batch of all ranks."""
    layers = [m for module in modules for m in module.modules() if isinstance(m, _BatchNorm)]
    shard = Shard()
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        layers = []
    for layer in layers:
        layer.forward = partial(_synced_forward, layer, shard)
    try:
        yield shard
    finally:
        for layer in layers:
            del layer.forward
