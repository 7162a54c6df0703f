"""The docker adapter against a private engine: crashes and hangs end as failed rows, nothing left running."""
from __future__ import annotations

import time

import pytest

from edgeship.targets.base import BenchRequest
from edgeship.targets.docker import DockerTarget, DockerTargetConfig

pytestmark = pytest.mark.docker


def docker_target(engine, image, **overrides) -> DockerTarget:
    return DockerTarget(DockerTargetConfig(**{"name": "box", "type": "docker", "image": image,
                                              "docker_host": engine.host, **overrides}))


def running_containers(engine) -> list[str]:
    return engine.docker("ps", "-aq").stdout.split()


@pytest.mark.arm64
def test_crashing_emulated_container_does_not_hang(docker_engine, docker_image_arm64, tiny_models, eval_request):
    # 24 MB cannot hold OpenVINO: the kernel kills the emulated agent; --init reaps it, the row says failed.
    target = docker_target(docker_engine, docker_image_arm64, memory="24m")
    start = time.monotonic()
    results = target.bench_many([m for m in tiny_models if m[1] == "openvino"][:1], eval_request)
    assert results[0]["status"] == "failed" and results[0]["emulated"] is True
    assert "exit 137" in results[0]["error"] or "killed" in results[0]["error"].lower(), results[0]["error"]
    assert time.monotonic() - start < 120
    assert running_containers(docker_engine) == []


def test_hanging_container_is_killed_at_the_deadline(docker_engine, docker_image_amd64, tiny_models):
    hang = BenchRequest(eval_npz=None, warmup=1, min_runs=10**9, min_seconds=600, max_seconds=600, timeout=8)
    start = time.monotonic()
    results = docker_target(docker_engine, docker_image_amd64).bench_many(tiny_models[:1], hang)
    assert results[0]["status"] == "failed" and "timed out" in results[0]["error"]
    assert time.monotonic() - start < 60
    assert running_containers(docker_engine) == []


def test_missing_image_is_a_failed_row_naming_it(docker_engine, tiny_models, eval_request):
    results = docker_target(docker_engine, "edgeship-no-such-image:1").bench_many(tiny_models[:2], eval_request)
    assert [r["status"] for r in results] == ["failed", "failed"]
    assert "edgeship-no-such-image:1" in results[0]["error"]


def test_board_limits_and_a_read_only_root_still_run(docker_engine, docker_image_amd64, tiny_models, eval_request):
    target = docker_target(docker_engine, docker_image_amd64, cpus=0.5, cpuset="0", memory="512m",
                           run_args=["--read-only", "--tmpfs", "/tmp"])
    result = target.bench_many(tiny_models[:1], eval_request)[0]
    assert result["status"] == "ok", result.get("error")
    assert result["emulated"] is False and result["container_platform"] == "linux/amd64"


def test_platform_mismatch_is_refused(docker_engine, docker_image_amd64, tiny_models, eval_request):
    results = docker_target(docker_engine, docker_image_amd64, platform="linux/arm64").bench_many(
        tiny_models[:1], eval_request)
    assert results[0]["status"] == "failed" and "is linux/amd64, not linux/arm64" in results[0]["error"]


def test_baseline_and_candidate_are_timed_interleaved_in_a_container(docker_engine, docker_image_amd64, tiny_models,
                                                                      eval_request):
    from tests.devices.conftest import assert_times_interleaved

    assert_times_interleaved(docker_target(docker_engine, docker_image_amd64), tiny_models, eval_request)
    assert running_containers(docker_engine) == []
