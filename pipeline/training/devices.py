"""Where training runs: train.device auto | cpu | cuda. On CUDA: one GPU per process (LOCAL_RANK under torchrun),
mixed precision (bf16 where the GPU has it, else fp16 with a gradient scaler), channels-last memory, pinned host
memory for the loader. Everything after training (export, int8, bench) stays on the CPU."""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


@dataclass
class TrainingDevice:
    device: torch.device
    amp_dtype: torch.dtype | None  # None: full precision
    channels_last: bool = False  # NHWC activations: what tensor cores want

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16 needs loss scaling; bf16 has fp32's range and does not."""
        return torch.amp.GradScaler(self.device.type) if self.amp_dtype == torch.float16 else None

    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def require(device: str, field: str = "train.device") -> None:
    """A GPU asked for where none exists: one line, before anything runs."""
    if device == "cuda" and not torch.cuda.is_available():
        raise EdgeshipError(f"{field}: cuda requested, but this machine has no CUDA GPU that torch can use "
                            "(torch.cuda.is_available() is False); use auto or cpu")


def resolve(device: str, amp: bool, field: str = "train.device") -> TrainingDevice:
    require(device, field)
    if device == "cpu" or not torch.cuda.is_available():
        return TrainingDevice(torch.device("cpu"), None)
    index = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(index)
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if amp else None
    return TrainingDevice(torch.device("cuda", index), dtype, channels_last=True)
