"""qemu-arm64 beyond the contract: the older tflite-runtime stack (numpy<2) that many boards still run."""
from __future__ import annotations

import pytest

from edgeship.targets.emulation.userland import TFLITE_RUNTIME_SITE
from edgeship.targets.qemu import QemuArm64Target

pytestmark = pytest.mark.arm64


def test_tflite_runtime_stack_gives_the_same_accuracy(arm64_root, tiny_models, eval_request, reference_results):
    target = QemuArm64Target("pi3", rootfs=str(arm64_root), cpu="cortex-a53", python_path=TFLITE_RUNTIME_SITE)
    pairs = [(m, r) for m, r in zip(tiny_models, reference_results) if m[1] == "tflite"]
    results = target.bench_many([m for m, _ in pairs], eval_request)
    for ((model, _), reference), result in zip(pairs, results):
        assert result["status"] == "ok", result.get("error")
        assert result["runtime"] == "tflite-runtime" and result["runtime_version"] == "2.14.0"
        assert abs(result["accuracy"] - reference["accuracy"]) <= 1.5, model.name
    probe = target.probe()
    assert probe["numpy"].startswith("1.") and probe["runtimes"]["onnxruntime"] is None
