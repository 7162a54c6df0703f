"""Training on several processes with PyTorch's own engine: torchrun starts them, DistributedDataParallel
averages the gradients. edgeship trains on CPUs, so the backend is gloo.

Every rank runs the same training stages in lockstep; rank 0 alone writes the run folder and sends each
finished stage folder to the others, so the nodes of a multi-node job need no shared disk.
"""
from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.runfolder import StageRecord
from edgeship.pipeline.core.contracts.stage_graph import StageId


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


_THREADS_BEFORE: list[int] = []


def join_from_env() -> None:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR, ...)."""
    if not under_torchrun() or dist.is_initialized():
        return
    # CPU tensors on gloo; on a GPU machine CUDA tensors (DDP's gradient buckets) on NCCL, one GPU per process
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    # The processes of one node share its cores: torchrun's own default is 1 thread each.
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    _THREADS_BEFORE.append(torch.get_num_threads())
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))


def leave() -> None:
    """Training is over: leave the group; rank 0 goes on alone (conversions, bench) with every core."""
    if dist.is_initialized():
        dist.destroy_process_group()
    if _THREADS_BEFORE:
        torch.set_num_threads(_THREADS_BEFORE.pop())


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def broadcast(obj=None):
    """Rank 0's `obj` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: list[float]) -> list[float]:
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return total.tolist()


def shard(batch_size: int) -> tuple[slice, float]:
    """This rank's contiguous part of a global batch, and the weight that makes the averaged gradient equal the
    gradient of the whole batch in one process. A rank left without samples (a last batch smaller than the
    world) must still join the gradient all-reduce: it runs one sample with weight 0."""
    size, part = world_size(), rank()
    base, extra = divmod(batch_size, size)
    start = part * base + min(part, extra)
    end = start + base + (part < extra)
    if start == end:
        return slice(0, 1), 0.0
    return slice(start, end), (end - start) * size / batch_size


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def _unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")


def shared_stage(run, sid: StageId, stage_type: str, key: str, parent: str | None, versions: dict,
                 build: Callable[[Path], Artifact], force: bool) -> Artifact:
    """One training stage on every rank: rank 0 decides reuse or build and writes the folder; the others train
    along when it builds (their own copy goes to a temp folder and is dropped) and keep rank 0's copy in their
    private run folder."""
    name = sid.name
    if is_main():
        reuse = run.has_stage(name, key) and not force
        broadcast(reuse)
        artifact = run.run_stage(sid, stage_type, key, parent, versions, build, force)
        broadcast(_pack(artifact.folder))
        return artifact
    reuse = broadcast()
    start = time.perf_counter()
    if not reuse:
        with tempfile.TemporaryDirectory(prefix="edgeship-rank") as scratch:
            build(Path(scratch))
    folder = run.stage_dir(name, key)
    shutil.rmtree(folder, ignore_errors=True)
    _unpack(broadcast(), folder)
    run.record(StageRecord(name, stage_type, key, parent, "reused" if reuse else "ok",
                           time.perf_counter() - start, versions, identity=sid.to_dict()))
    return Artifact.read(folder)
