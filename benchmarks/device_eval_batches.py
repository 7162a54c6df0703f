"""How long the device agent takes to score accuracy, one image at a time against batches, per runtime.

The bench stage scores every row on the whole test split; scored one image at a time, a torch row of a
MobileNetV3-small at 32 px cost 8-12 ms per image (issue 27: 510 s of bench beside 494 s for the rest of a run).
This runs the real agent (agent.pyz in its own process, as on a board) on each format's file with
`--eval-batch 1` and with its default, and prints seconds per run, the batch it used and both accuracies (they
must be equal). Random weights: the figures are about time, not accuracy.

    python benchmarks/device_eval_batches.py [--arch mobilenet_v3_small] [--size 32] [--images 2000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.pipeline.core.contracts.formats import format_named, runner_of  # noqa: E402
from edgeship.pipeline.models.torch_artifact import PROGRAM_FILE, save_torch_model  # noqa: E402
from edgeship.targets.agent_zipapp import agent_zipapp  # noqa: E402


def agent_seconds(model: Path, fmt: str, eval_npz: Path, *extra: str) -> tuple[float, dict]:
    argv = [sys.executable, str(agent_zipapp()), "--model", str(model), "--format", runner_of(fmt), "--eval",
            str(eval_npz), "--min-runs", "1", "--min-seconds", "0", "--warmup", "0", *extra]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mobilenet_v3_small")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(num_classes=10).eval()
    example = torch.zeros(1, 3, args.size, args.size)
    pre = {"size": [args.size, args.size], "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3, "scale": 1 / 255}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        eval_npz = out / "eval.npz"
        np.savez(eval_npz, inputs=rng.standard_normal((args.images, 3, args.size, args.size)).astype(np.float32),
                 labels=rng.integers(0, 10, args.images), metric=np.str_("top1"))
        save_torch_model(model, out, pre)
        files = {"torch": out / PROGRAM_FILE}
        for fmt in ("onnx", "openvino", "tflite"):
            (out / fmt).mkdir()
            files[fmt] = out / fmt / format_named(fmt).export(model, example, out / fmt, 17)
        print(f"{args.arch} at {args.size} px, {args.images} images, 1 thread (seconds per agent run, load included)")
        print(f"{'format':<10}{'one at a time':>15}{'batched':>10}{'batch':>7}{'speed-up':>10}  accuracy equal")
        for fmt, path in files.items():
            alone_s, alone = agent_seconds(path, fmt, eval_npz, "--eval-batch", "1")
            batched_s, batched = agent_seconds(path, fmt, eval_npz)
            same = alone.get("accuracy") == batched.get("accuracy")
            print(f"{fmt:<10}{alone_s:>15.1f}{batched_s:>10.1f}{batched.get('eval_batch', '-'):>7}"
                  f"{alone_s / batched_s:>9.1f}x  {same}")


if __name__ == "__main__":
    main()
