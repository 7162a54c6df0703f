"""docker: the agent in a container, to model a board (cpus, memory, cpuset) or an arm64 device through binfmt.

Inputs are mounted read-only at /in, the result is written to a separate mount at /out. Every run has --init
(an emulated PID 1 that crashes would otherwise hang the container forever), --network none, a name, and a
deadline after which the container is killed. An arm64 image on an x86 engine runs emulated: the result says
so, and gets a fake ARM /proc/cpuinfo (qemu-user would show the x86 one, which crashes onnxruntime).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Literal

from pydantic import Field

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type
from edgeship.targets.agent_zipapp import AGENT_NAME
from edgeship.targets.base import AgentTarget, failed, parse_agent_output
from edgeship.targets.emulation.arm_cpus import ArmCpuName, fake_cpuinfo
from edgeship.targets.emulation.binfmt import EmulationUnavailable, ensure_aarch64
from edgeship.targets.process import DeadlineExceeded, run_with_deadline
from edgeship.targets.transport import FolderSession, TransportError

ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class DockerSession(FolderSession):
    """/in (the work folder) mounted read-only, /out a separate mount for the result file; one container a run."""

    def __init__(self, transport: "DockerTransport"):
        super().__init__("edgeship-docker-", where="/in")
        self.transport, self.probe_dir = transport, "/out"

    def run(self, agent_args: list[str], timeout: float) -> dict:
        t, c = self.transport, self.transport.cfg
        out = self.root / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        container = f"edgeship-{uuid.uuid4().hex[:12]}"
        argv = ["run", "--rm", "--init", "--name", container, "--network", "none",
                "-v", f"{self.folder}:/in:ro", "-v", f"{out}:/out"]
        argv += ["--platform", c.platform] if c.platform else []
        argv += ["--cpus", str(c.cpus)] if c.cpus else []
        argv += ["--cpuset-cpus", c.cpuset] if c.cpuset else []
        argv += ["--memory", c.memory] if c.memory else []
        if t.emulated and t.arch == "arm64":
            cpuinfo = self.root / "cpuinfo"
            cpuinfo.write_text(fake_cpuinfo(c.cpu, 4))
            argv += ["-v", f"{cpuinfo}:/proc/cpuinfo:ro", "-e", f"QEMU_CPU={c.cpu}"]
        argv += [*c.run_args, c.image, c.python, f"/in/{AGENT_NAME}", *agent_args, "--output", "/out/result.json"]
        try:
            proc = t.docker(argv, timeout)
        except TransportError as err:
            try:
                t.docker(["rm", "-f", container])  # the deadline killed the client, not the container
            except TransportError:
                pass  # the engine is gone too; the row already says why
            return failed(f"target {c.name}: {err}")
        result_file = out / "result.json"
        if result_file.is_file():
            try:
                return json.loads(result_file.read_text())
            except json.JSONDecodeError:
                pass
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)


class DockerTransport:
    def __init__(self, cfg):
        self.cfg = cfg
        self.emulated = False  # known once the image and the engine are inspected
        self.arch: str | None = None

    def docker(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        host = ["-H", self.cfg.docker_host] if self.cfg.docker_host else []
        try:
            return run_with_deadline(["docker", *host, *args], timeout)
        except FileNotFoundError:
            raise TransportError("docker not found: apt-get install docker.io") from None
        except DeadlineExceeded as err:
            raise TransportError(f"docker {args[0]}: {err}") from None

    def open(self) -> DockerSession:
        self._inspect()
        return DockerSession(self)

    def _inspect(self) -> None:
        """Image architecture vs the engine's: decides emulation and the cpuinfo mount."""
        if self.arch is not None:
            return
        engine = self.docker(["info", "--format", "{{.Architecture}}"])
        if engine.returncode != 0:
            raise TransportError(f"no Docker engine at {self.cfg.docker_host or 'the default socket'}: "
                                 f"{(engine.stderr.strip().splitlines() or ['?'])[-1][:200]}")
        image = self.docker(["image", "inspect", "--format", "{{.Architecture}}", self.cfg.image])
        if image.returncode != 0:
            raise TransportError(f"image {self.cfg.image!r} not found on the engine (build or pull it first)")
        arch = ARCH_NAMES.get(image.stdout.strip(), image.stdout.strip())
        if self.cfg.platform and self.cfg.platform != f"linux/{arch}":
            raise TransportError(f"image {self.cfg.image!r} is linux/{arch}, not {self.cfg.platform}")
        emulated = arch != ARCH_NAMES.get(engine.stdout.strip(), engine.stdout.strip())
        if emulated and arch == "arm64":
            try:
                ensure_aarch64()
            except EmulationUnavailable as err:
                raise TransportError(str(err)) from None
        self.arch, self.emulated = arch, emulated

    def details(self) -> dict:
        return {"container_platform": f"linux/{self.arch}" if self.arch else None,
                **({"emulated_cpu": self.cfg.cpu} if self.emulated else {})}


class DockerTarget(AgentTarget):
    def __init__(self, cfg):
        super().__init__(cfg.name, DockerTransport(cfg))


class DockerTargetConfig(TargetBase):
    type: Literal["docker"]  # a container per run (a board's limits, or arm64 through binfmt)
    image: str = Field(pattern=r"^[A-Za-z0-9_./:@-]+$")  # an image with python, numpy and the runtimes
    platform: str | None = Field(None, pattern=r"^linux/(amd64|arm64)$")  # arm64 on x86: emulated
    cpus: float | None = Field(None, gt=0.0)  # docker run --cpus: model a smaller board
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")  # docker run --cpuset-cpus
    memory: str | None = Field(None, pattern=r"^[0-9]+[bkmg]?$")  # docker run --memory
    run_args: list[str] = []  # further docker run arguments
    docker_host: str | None = None  # e.g. unix:///run/edgeship-docker.sock; default: docker's own
    python: str = "python3"  # the interpreter inside the image
    cpu: ArmCpuName = "cortex-a72"  # the ARM core to emulate when an arm64 image runs on x86


register_target_type(TargetType(name="docker", config=DockerTargetConfig, make=DockerTarget, runs_torch=False,
                                 interleaved_timing=True))
