"""The tiny recipe every flow test starts from, and a helper to change it by dotted keys."""
from __future__ import annotations

import copy

TINY_RECIPE = {
    "name": "tiny",
    "seed": 0,
    "data": {"source": "digits", "image_size": 8, "channels": 1, "mean": [0.3], "std": [0.4]},
    "teacher": {"arch": "cifar_resnet8", "args": {"width": 8}, "train": {"epochs": 2, "lr": 0.05}},
    "student": {"arch": "simple_cnn", "args": {"width": 8, "depth": 2},
                "train": {"epochs": 8, "lr": 0.01, "optimizer": "adam"}},
    "distill": {"temperature": 4.0, "alpha": 0.9, "baseline": True},
    "prune": {"ratio": 0.25, "steps": 2, "importance": "taylor",
              "finetune": {"epochs": 2, "lr": 0.005, "optimizer": "adam"}},
    "export": {"formats": ["onnx", "tflite", "openvino"], "parity_samples": 64},
    "quantize": {"calibration": {"samples": 50}},
    "bench": {"warmup": 2, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 5.0},
    # Which student validates better is a coin toss on this tiny run; the flow tests follow the KD lineage
    # (tests/e2e/test_ship_line.py follows the other).
    "ship": {"start_from": "kd"},
}


def tiny_recipe_dict(**overrides) -> dict:
    raw = copy.deepcopy(TINY_RECIPE)
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return raw


# int8 against fp32 argmax on the 64 parity samples of a tiny, few-epoch student: a faithful quantization flips
# only near-ties, and how many near-ties a weak model has moves with the CPU's int8 kernels (seen: 89.06% on an
# AVX2-only EPYC, 92-97% with AVX-512 VNNI). 64 samples at p = 0.9 have a standard error of 3.8 points; 75% is
# about four below the worst seen and still seven times chance (10 classes), so a broken int8 file cannot pass.
INT8_MIN_AGREEMENT = 75.0
