"""DataLoaders over splits: evaluation in order, training in seeded global batches of which each rank of a
distributed run loads only its own part."""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


def default_workers(split, batch_size: int | None = None) -> int:
    """Decoding files in worker processes pays; in-memory arrays are faster in the main process, and so is a
    set of one batch (a worker would decode the same images after paying its start-up)."""
    if not getattr(split, "decodes_files", False) or (batch_size and len(split) <= batch_size):
        return 0
    return min(4, os.cpu_count() or 1)


def _worker_context() -> str | None:
    """fork, unless JAX (which litert-torch brings in for conversions) already runs threads in this process: a
    fork then can deadlock, so workers start from a fork server instead."""
    return "forkserver" if "jax" in sys.modules else None


def _loader(split, workers: int | None, pin_memory: bool = False, **kwargs) -> DataLoader:
    workers = default_workers(split, kwargs.get("batch_size")) if workers is None else workers
    extra = {"prefetch_factor": 2, "multiprocessing_context": _worker_context()} if workers else {}
    # a split whose targets do not stack (a variable number per image) brings its own collate
    return DataLoader(split, num_workers=workers, pin_memory=pin_memory, persistent_workers=False, **extra,
                      collate_fn=getattr(split, "collate", None), **kwargs)


# One evaluation batch's float32 inputs: the activations are a few times this. A fixed 256 images made 154 MB
# of inputs at 224 px (and 800 MB for a ResNet-18 stem output) for a forward pass no faster per image.
EVAL_BATCH_INPUT_BYTES = 8 * 1024 ** 2
MOST_EVAL_BATCH = 256


def eval_batch_size(split) -> int:
    """Images per evaluation batch: 256 for small images, fewer as they grow (13 at 224 px RGB, 8 at least)."""
    pre = getattr(split, "pre", None) or {}
    size = pre.get("size")
    if not size:
        return MOST_EVAL_BATCH
    height, width = (size, size) if isinstance(size, int) else size[-2:]
    per_image = 4 * int(pre.get("channels", 1)) * int(height) * int(width)
    return max(8, min(MOST_EVAL_BATCH, EVAL_BATCH_INPUT_BYTES // per_image))


def eval_loader(split, batch_size: int | None = None, workers: int | None = None,
                pin_memory: bool = False) -> DataLoader:
    """In order, and without drawing from the global random state: a DataLoader draws its workers' base seed from
    it, so an evaluation in the middle of training shifted every later dropout mask (adaptive KD's extra
    evaluations turned MobileNet and SqueezeNet students into other runs than the same KD without them)."""
    return _loader(split, workers, pin_memory, batch_size=batch_size or eval_batch_size(split), shuffle=False,
                   generator=torch.Generator().manual_seed(0))


class GlobalBatches(Sampler[list[int]]):
    """A seeded permutation per epoch cut into global batches; yields this rank's part of each (one stand-in
    sample where a rank has none: it must still join the gradient all-reduce). `shard(global_batch_size)` gives
    this rank's slice of a global batch (edgeship.pipeline.training.distributed.shard)."""

    def __init__(self, length: int, batch_size: int, seed: int, shard: Callable[[int], tuple[slice, float]]):
        self.length, self.batch_size, self.seed, self.epoch = length, batch_size, seed, 0
        self.shard = shard

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.length // self.batch_size)

    def global_sizes(self) -> list[int]:
        return [min(self.batch_size, self.length - i) for i in range(0, self.length, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed * 10_007 + self.epoch))
        for i in range(0, self.length, self.batch_size):
            part, _ = self.shard(min(self.batch_size, self.length - i))
            yield order[i:i + self.batch_size][part].tolist()


def train_loader(split, sampler: GlobalBatches, workers: int | None = None, pin_memory: bool = False) -> DataLoader:
    return _loader(split, workers, pin_memory, batch_sampler=sampler)


def iterate(loader: DataLoader):
    """The loader's batches; an EdgeshipError raised in a worker (an unreadable image) comes back as its own
    one-line message instead of the worker's traceback."""
    try:
        yield from loader
    except EdgeshipError as err:
        lines = [line for line in str(err).splitlines() if line.strip()]
        last = lines[-1] if lines else str(err)
        raise EdgeshipError(last.split("EdgeshipError: ", 1)[-1]) from None
