"""Real devices for the adapter tests, started by the tests themselves: sshd on 127.0.0.1 (x86, and an aarch64
one inside the arm64 userland), a private Docker engine with amd64 and arm64 images, binfmt for qemu-arm64.
Each skips with the reason when this machine lacks what it needs; .ci/run installs all of it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from targets.base import BenchRequest

FORMATS = ("onnx", "tflite", "openvino")


def _require_root_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mounts, binfmt)")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (.ci/run installs it with apt-get)")


@pytest.fixture(scope="session")
def tiny_models(tiny_run) -> list[tuple[Path, str]]:
    """fp32 and int8 of every format from the tiny optimize run."""
    run_dir, report, _ = tiny_run
    from pipeline.core.artifact import Artifact

    models = []
    for fmt in FORMATS:
        for precision in ("fp32", "int8"):
            folder = next((run_dir / "stages").glob(f"{fmt}-{precision}-*"))
            models.append((Artifact.read(folder).path, fmt))
    return models


@pytest.fixture(scope="session")
def eval_request(tiny_run) -> BenchRequest:
    run_dir = tiny_run[0]
    return BenchRequest(eval_npz=next((run_dir / "data").glob("eval-*.npz")), warmup=1, min_runs=3,
                        min_seconds=0.0, max_seconds=5.0, timeout=300)


@pytest.fixture(scope="session")
def reference_results(tiny_models, eval_request) -> list[dict]:
    from targets.local import LocalTarget

    return LocalTarget().bench_many(tiny_models, eval_request)


@pytest.fixture(scope="session")
def arm64_root() -> Path:
    _require_root_tools("mmdebstrap", "unshare", "chroot")
    from targets.binfmt import EmulationUnavailable, ensure_aarch64
    from targets.userland import userland

    try:
        ensure_aarch64()
    except EmulationUnavailable as err:
        pytest.skip(f"no arm64 emulation: {err}")
    return userland("arm64")


@pytest.fixture(scope="session")
def sshd_x86(tmp_path_factory):
    from tests.support.sshd import sshd_missing, start_sshd

    if reason := sshd_missing():
        pytest.skip(reason)
    server = start_sshd(tmp_path_factory.mktemp("sshd-x86"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_arm64(tmp_path_factory, arm64_root):
    from tests.support.sshd import sshd_missing, start_sshd

    if reason := sshd_missing():
        pytest.skip(reason)
    server = start_sshd(tmp_path_factory.mktemp("sshd-arm64"), arm64_root=arm64_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker_engine():
    from tests.support.dockerd import docker_missing, start_dockerd

    if reason := docker_missing():
        pytest.skip(reason)
    engine = start_dockerd()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def docker_images(docker_engine, arm64_root) -> dict[str, str]:
    from tests.support.dockerd import device_image

    return {arch: device_image(docker_engine, arch) for arch in ("amd64", "arm64")}
