#!/usr/bin/env python3
"""CPU and GPU training agree: the same tiny run (digits, a small CNN, 8 epochs) on the CPU, on CUDA in fp32 and on
CUDA with mixed precision, side by side. Prints test top-1 and seconds per run, and the largest weight difference
between the CPU and the CUDA fp32 model. Exits 2 with one line where torch sees no CUDA GPU."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig  # noqa: E402
from edgeship.pipeline.data.datasets import load_dataset  # noqa: E402
from edgeship.pipeline.models.zoo import build_model  # noqa: E402
from edgeship.pipeline.training.loop import accuracy, train  # noqa: E402


def run(data, device: str, amp: bool) -> tuple[torch.nn.Module, float, float]:
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1, 8, {"width": 16})
    start = time.perf_counter()
    train(model, data.train, data.val, TrainConfig(epochs=8, lr=0.05, device=device, amp=amp), seed=0)
    return model, accuracy(model, data.test), time.perf_counter() - start


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_smoke: no CUDA GPU that torch can use on this machine", file=sys.stderr)
        return 2
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    runs = {name: run(data, device, amp) for name, device, amp in
            (("cpu", "cpu", False), ("cuda fp32", "cuda", False), ("cuda amp", "cuda", True))}
    print(f"GPU: {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
    for name, (_, acc, seconds) in runs.items():
        print(f"{name:<10} test top-1 {acc:6.2f}%  {seconds:6.1f} s")
    diff = max((a - b).abs().max().item() for a, b in zip(runs["cpu"][0].state_dict().values(),
                                                           runs["cuda fp32"][0].state_dict().values())
               if a.is_floating_point())
    print(f"largest weight difference, cpu vs cuda fp32: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
