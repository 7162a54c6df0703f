"""One contract, every adapter: the same fp32 and int8 models give the same accuracy wherever they run.

fp32 must match this machine's result exactly up to one flipped sample; int8 on ARM may differ a little from
x86 (other int8 kernels, other rounding): within ARM_INT8_TOLERANCE points.
"""
from __future__ import annotations

import sys

import pytest

from edgeship.targets.docker import DockerTargetConfig
from edgeship.targets.local import LocalTargetConfig
from edgeship.targets.qemu import QemuArm64TargetConfig
from edgeship.targets.registry import make_target
from edgeship.targets.ssh import SshTargetConfig

ONE_SAMPLE_TOLERANCE = 0.6   # points: 2 of the 359 digits test images
ARM_INT8_TOLERANCE = 1.5     # points, int8 only, ARM kernels against x86

ADAPTERS = [
    pytest.param("local", id="local"),
    pytest.param("ssh-x86", id="ssh-x86", marks=pytest.mark.ssh),
    pytest.param("ssh-arm64", id="ssh-arm64", marks=[pytest.mark.ssh, pytest.mark.arm64]),
    pytest.param("docker-amd64", id="docker-amd64", marks=pytest.mark.docker),
    pytest.param("docker-arm64", id="docker-arm64", marks=[pytest.mark.docker, pytest.mark.arm64]),
    pytest.param("qemu-arm64", id="qemu-arm64", marks=pytest.mark.arm64),
]


def target_config(kind: str, request):
    if kind == "local":
        return LocalTargetConfig(name="local")
    if kind == "ssh-x86":
        return SshTargetConfig(**request.getfixturevalue("sshd_x86").target("ssh-x86", python=sys.executable))
    if kind == "ssh-arm64":
        server = request.getfixturevalue("sshd_arm64")
        return SshTargetConfig(**server.target("pi4-ssh", python="python3", emulated=True))
    if kind.startswith("docker-"):
        arch = kind.split("-")[1]
        engine, image = request.getfixturevalue("docker_engine"), request.getfixturevalue(f"docker_image_{arch}")
        return DockerTargetConfig(name=kind, type="docker", image=image, platform=f"linux/{arch}",
                                  docker_host=engine.host, cpus=1.0, memory="1g")
    root = request.getfixturevalue("arm64_root")
    return QemuArm64TargetConfig(name="pi4", type="qemu-arm64", rootfs=str(root), cpu="cortex-a72")


@pytest.mark.parametrize("kind", ADAPTERS)
def test_same_accuracy_on_every_adapter(kind, request, tiny_models, eval_request, reference_results):
    target = make_target(target_config(kind, request))
    results = target.bench_many(tiny_models, eval_request)
    arm = kind.endswith("arm64")
    assert len(results) == len(tiny_models)
    for (model, fmt), result, reference in zip(tiny_models, results, reference_results):
        where = f"{model.name} on {kind}"
        assert result["status"] == "ok", f"{where}: {result.get('error')}"
        assert result["format"] == fmt and result["runs"] >= 3 and result["latency_ms"]["p50"] > 0
        assert result["platform"]["machine"] == ("aarch64" if arm else "x86_64"), where
        assert result["emulated"] is arm, where
        assert result["target"] == target.name
        tolerance = ARM_INT8_TOLERANCE if arm and "int8" in model.name else ONE_SAMPLE_TOLERANCE
        assert abs(result["accuracy"] - reference["accuracy"]) <= tolerance, (
            f"{where}: {result['accuracy']:.2f}% vs {reference['accuracy']:.2f}% on this machine")
        if fmt == "openvino":  # f32 everywhere accuracy is compared (bf16 on AMX, f16 on ARM otherwise)
            assert result["settings"]["inference_precision"] == "f32", where
    if kind.startswith("docker"):
        assert {r["container_platform"] for r in results} == {f"linux/{kind.split('-')[1]}"}


@pytest.mark.parametrize("kind", ADAPTERS)
def test_probe_reports_the_device(kind, request):
    probe = make_target(target_config(kind, request)).probe()
    assert probe["status"] == "ok", probe.get("error")
    assert probe["platform"]["machine"] == ("aarch64" if kind.endswith("arm64") else "x86_64")
    assert probe["runtimes"]["onnxruntime"] and probe["runtimes"]["openvino"] and probe["runtimes"]["tflite"]
    assert probe["free_disk_mb"] > 0
