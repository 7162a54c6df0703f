"""A private Docker engine for the docker adapter's tests, and device images built offline.

No registry is reachable here, so images come from the cached Debian userlands: a `FROM scratch` + `ADD
rootfs.tar /` base (the legacy builder honours --platform; `docker import` would tag everything amd64), then
edgeship's own targets/docker/Dockerfile on top of it, as a user would build it on python:3.11-slim.
The engine's data root is kept between runs under the cache, so images are built once per content key.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.targets.agent_zipapp import source_digest
from edgeship.targets.emulation.userland import DEFAULT_CACHE, rootfs_tar, userland

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "targets" / "docker" / "Dockerfile"


@dataclass
class DockerEngine:
    host: str
    process: subprocess.Popen
    exec_root: Path

    def docker(self, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, timeout=timeout,
                              env=env)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.exec_root, ignore_errors=True)


def docker_missing() -> str | None:
    for tool in ("dockerd", "docker", "containerd"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install docker.io)"
    if os.geteuid() != 0:
        return "a private Docker engine needs root"
    return None


def start_dockerd(data_root: Path = DEFAULT_CACHE / "docker") -> DockerEngine:
    data_root.mkdir(parents=True, exist_ok=True)
    exec_root = Path(tempfile.mkdtemp(prefix="esd-", dir="/run"))  # short: unix socket paths max 108 bytes
    host = f"unix://{exec_root}/docker.sock"
    argv = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=overlay2",
            f"--data-root={data_root}", f"--exec-root={exec_root}/exec", f"--pidfile={exec_root}/docker.pid",
            "-H", host]
    log = open(exec_root / "dockerd.log", "w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    engine = DockerEngine(host, process, exec_root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited: {(exec_root / 'dockerd.log').read_text()[-800:]}")
        try:
            if engine.docker("info", "--format", "{{.ServerVersion}}", timeout=10).returncode == 0:
                return engine
        except subprocess.TimeoutExpired:
            pass  # a busy machine: ask again until the deadline
        time.sleep(0.2)
    engine.stop()
    raise RuntimeError("dockerd not ready after 60 s")


def device_image(engine: DockerEngine, arch: str) -> str:
    """edgeship's device image for linux/`arch`, built from the cached userland (once per content key)."""
    root = userland(arch)
    key = root.name.rsplit("-", 1)[-1]
    # the device image also changes with edgeship's Dockerfile and the agent it copies in
    made_of = hashlib.sha256(DOCKERFILE.read_bytes() + source_digest().encode()).hexdigest()[:8]
    base, image = f"edgeship-base-{arch}:{key}", f"edgeship-device-{arch}:{key}-{made_of}"
    if engine.docker("image", "inspect", image, timeout=60).returncode == 0:
        _remove_older(engine, arch, (base, image))
        return image
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        context = Path(tmp)
        os.link(rootfs_tar(root), context / "rootfs.tar")
        (context / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\nENV PYTHONPATH=/opt/site HOME=/tmp\n"
                                            "CMD [\"python3\"]\n")
        _build(engine, ["--platform", f"linux/{arch}", "-t", base, str(context)], env)
    _build(engine, ["--platform", f"linux/{arch}", "--build-arg", f"BASE_IMAGE={base}", "--build-arg", "RUNTIMES=",
                    "-f", str(DOCKERFILE), "-t", image, str(DOCKERFILE.parents[1])], env)
    _remove_older(engine, arch, (base, image))
    return image


def _remove_older(engine: DockerEngine, arch: str, current: tuple[str, ...]) -> None:
    """Images of earlier userlands or Dockerfiles: half a gigabyte each in the cached data root, never used again."""
    listed = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}", timeout=60).stdout.split()
    stale = [name for name in listed if name.split(":")[0] in (f"edgeship-base-{arch}", f"edgeship-device-{arch}")
             and name not in current]
    if stale:
        engine.docker("rmi", *stale, timeout=300)


def _build(engine: DockerEngine, args: list[str], env: dict) -> None:
    proc = engine.docker("build", "--network", "none", "-q", *args, timeout=900, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"docker build {' '.join(args)} failed: {proc.stderr.strip()[-800:]}")
