"""Real devices for the adapter tests, started by the tests themselves: sshd on 127.0.0.1 (x86, and an aarch64
one inside the arm64 userland), a private Docker engine with amd64 and arm64 images, binfmt for qemu-arm64.
Each skips with the reason when this machine lacks what it needs; .ci/run installs all of it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from edgeship.targets.base import BenchRequest
from edgeship.targets.emulation.binfmt import QEMU_CONF
from tests.support import device_prep
from tests.support.requirements import missing

FORMATS = ("onnx", "tflite", "openvino")


def _require_root_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        missing("needs root (chroot, mounts, binfmt)")
    for tool in tools:
        if shutil.which(tool) is None:
            missing(f"{tool} not installed (.ci/run installs it with apt-get)")


@pytest.fixture(scope="session")
def tiny_models(tiny_run) -> list[tuple[Path, str]]:
    """fp32 and int8 of every format from the tiny optimize run."""
    run_dir, report, _ = tiny_run
    from edgeship.pipeline.core.contracts.artifact import Artifact

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
    from edgeship.targets.local import LocalTarget

    return LocalTarget().bench_many(tiny_models, eval_request)


@pytest.fixture(scope="session")
def arm64_root() -> Path:
    _require_root_tools("mmdebstrap", "unshare", "chroot")
    if not QEMU_CONF.is_file():
        missing(f"{QEMU_CONF} missing (apt-get install qemu-user-static)")
    from edgeship.targets.emulation.binfmt import EmulationUnavailable, ensure_aarch64
    from edgeship.targets.emulation.userland import userland

    try:
        ensure_aarch64()
    except EmulationUnavailable as err:  # qemu-user-static and root are there: edgeship's registration failed
        pytest.fail(f"edgeship could not set up arm64 emulation: {err}", pytrace=False)
    device_prep.wait()
    return userland("arm64")


@pytest.fixture(scope="session")
def sshd_x86(tmp_path_factory):
    from tests.support.sshd import sshd_missing, start_sshd

    if reason := sshd_missing():
        missing(reason)
    server = start_sshd(tmp_path_factory.mktemp("sshd-x86"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_arm64(tmp_path_factory, arm64_root):
    from tests.support.sshd import sshd_missing, start_sshd

    if reason := sshd_missing():
        missing(reason)
    server = start_sshd(tmp_path_factory.mktemp("sshd-arm64"), arm64_root=arm64_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker_engine():
    from tests.support.dockerd import docker_missing, start_dockerd

    if reason := docker_missing():
        missing(reason)
    engine = start_dockerd()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def docker_image_amd64(docker_engine) -> str:
    """The amd64 device image: built from a debootstrapped userland, no emulation needed."""
    from tests.support.dockerd import device_image

    _require_root_tools("mmdebstrap", "unshare")
    device_prep.wait()
    return device_image(docker_engine, "amd64")


@pytest.fixture(scope="session")
def docker_image_arm64(docker_engine, arm64_root) -> str:
    from tests.support.dockerd import device_image

    return device_image(docker_engine, "arm64")


def assert_times_interleaved(target, tiny_models, eval_request) -> None:
    """The gate's paired timing on a device: the baseline model travels with the candidate (under its own
    name, since both are often model.onnx; OpenVINO's .bin along with its .xml) and comes back timed."""
    from dataclasses import replace

    models = {(fmt, path.name): path for path, fmt in tiny_models}
    for fmt in ("onnx", "openvino"):
        fp32, int8 = sorted((p for (f, _), p in models.items() if f == fmt), key=lambda p: "int8" in str(p))
        for candidate in (fp32, int8):  # the same file name on both sides, then another model
            result = target.bench_many([(candidate, fmt)], replace(eval_request, baseline_model=fp32))[0]
            assert result["status"] == "ok", result.get("error")
            assert result["baseline_model"] == f"baseline-{fp32.name}"
            assert len(result["baseline_timings_ms"]) == len(result["timings_ms"]) >= 3
