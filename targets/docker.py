"""docker: the agent in a container, to model a board (cpus, memory, cpuset) or an arm64 device through binfmt.

Inputs are mounted read-only at /in, the result is written to a separate mount at /out. Every run has --init
(an emulated PID 1 that crashes would otherwise hang the container forever), --network none, a name, and a
deadline after which the container is killed. An arm64 image on an x86 engine runs emulated: the result says
so, and gets a fake ARM /proc/cpuinfo (qemu-user would show the x86 one, which crashes onnxruntime).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.targets import TargetBase, TargetType, register_target_type
from targets.arm_cpus import ArmCpuName, fake_cpuinfo
from targets.base import (
    AGENT,
    BenchRequest,
    baseline_copies,
    failed,
    parse_agent_output,
    stage,
    with_target,
)
from targets.binfmt import EmulationUnavailable, ensure_aarch64
from targets.process import DeadlineExceeded, run_with_deadline

ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class DockerError(Exception):
    pass


class DockerTarget:
    def __init__(self, cfg):
        self.cfg = cfg
        self.name = cfg.name
        self.emulated = False  # known once the image and the engine are inspected
        self._arch: str | None = None

    def _docker(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        host = ["-H", self.cfg.docker_host] if self.cfg.docker_host else []
        try:
            return run_with_deadline(["docker", *host, *args], timeout)
        except FileNotFoundError:
            raise DockerError("docker not found: apt-get install docker.io") from None
        except DeadlineExceeded as err:
            raise DockerError(f"docker {args[0]}: {err}") from None

    def _inspect(self) -> None:
        """Image architecture vs the engine's: decides emulation and the cpuinfo mount."""
        if self._arch is not None:
            return
        engine = self._docker(["info", "--format", "{{.Architecture}}"])
        if engine.returncode != 0:
            raise DockerError(f"no Docker engine at {self.cfg.docker_host or 'the default socket'}: "
                              f"{(engine.stderr.strip().splitlines() or ['?'])[-1][:200]}")
        image = self._docker(["image", "inspect", "--format", "{{.Architecture}}", self.cfg.image])
        if image.returncode != 0:
            raise DockerError(f"image {self.cfg.image!r} not found on the engine (build or pull it first)")
        self._arch = ARCH_NAMES.get(image.stdout.strip(), image.stdout.strip())
        if self.cfg.platform and self.cfg.platform != f"linux/{self._arch}":
            raise DockerError(f"image {self.cfg.image!r} is linux/{self._arch}, not {self.cfg.platform}")
        self.emulated = self._arch != ARCH_NAMES.get(engine.stdout.strip(), engine.stdout.strip())
        if self.emulated and self._arch == "arm64":
            try:
                ensure_aarch64()
            except EmulationUnavailable as err:
                raise DockerError(str(err)) from None

    def _run(self, work: Path, agent_args: list[str], timeout: float) -> dict:
        """One container: /in read-only (agent, eval set, model), /out for the result file."""
        out = work / "out"
        out.mkdir()
        c = self.cfg
        container = f"edgeship-{uuid.uuid4().hex[:12]}"
        argv = ["run", "--rm", "--init", "--name", container, "--network", "none",
                "-v", f"{work / 'in'}:/in:ro", "-v", f"{out}:/out"]
        argv += ["--platform", c.platform] if c.platform else []
        argv += ["--cpus", str(c.cpus)] if c.cpus else []
        argv += ["--cpuset-cpus", c.cpuset] if c.cpuset else []
        argv += ["--memory", c.memory] if c.memory else []
        if self.emulated and self._arch == "arm64":
            cpuinfo = work / "cpuinfo"
            cpuinfo.write_text(fake_cpuinfo(c.cpu, 4))
            argv += ["-v", f"{cpuinfo}:/proc/cpuinfo:ro", "-e", f"QEMU_CPU={c.cpu}"]
        argv += [*c.run_args, c.image, c.python, "/in/agent.py", *agent_args, "--output", "/out/result.json"]
        try:
            proc = self._docker(argv, timeout)
        except DockerError as err:
            try:
                self._docker(["rm", "-f", container])  # the deadline killed the client, not the container
            except DockerError:
                pass  # the engine is gone too; the row already says why
            return failed(f"target {self.name}: {err}")
        result_file = out / "result.json"
        if result_file.is_file():
            try:
                return json.loads(result_file.read_text())
            except json.JSONDecodeError:
                pass
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def _describe(self, result: dict) -> dict:
        return with_target({**result, "container_platform": f"linux/{self._arch}" if self._arch else None,
                            **({"emulated_cpu": self.cfg.cpu} if self.emulated else {})}, self)

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        try:
            self._inspect()
        except DockerError as err:
            return [self._describe(failed(f"target {self.name}: {err}")) for _ in models]
        results = []
        for model, fmt in models:
            with tempfile.TemporaryDirectory(prefix="edgeship-docker-") as tmp:
                work = Path(tmp)
                stage(work / "in", model, fmt, request.eval_npz)
                baseline = baseline_copies(request, fmt, work / "in")[1]
                eval_arg = f"/in/{request.eval_npz.name}" if request.eval_npz else None
                args = request.agent_args(f"/in/{model.name}", fmt, eval_arg, baseline and f"/in/{baseline}")
                results.append(self._describe(self._run(work, args, request.timeout)))
        return results

    def probe(self, timeout: float = 120.0) -> dict:
        try:
            self._inspect()
        except DockerError as err:
            return self._describe(failed(f"target {self.name}: {err}"))
        with tempfile.TemporaryDirectory(prefix="edgeship-docker-") as tmp:
            work = Path(tmp)
            (work / "in").mkdir()
            (work / "in" / AGENT.name).write_bytes(AGENT.read_bytes())
            return self._describe(self._run(work, ["--probe", "/out"], timeout))


class DockerTargetConfig(TargetBase):
    type: Literal["docker"]
    image: str = Field(pattern=r"^[A-Za-z0-9_./:@-]+$")
    platform: str | None = Field(None, pattern=r"^linux/(amd64|arm64)$")
    cpus: float | None = Field(None, gt=0.0)
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")
    memory: str | None = Field(None, pattern=r"^[0-9]+[bkmg]?$")
    run_args: list[str] = []
    docker_host: str | None = None  # e.g. unix:///run/edgeship-docker.sock; default: docker's own
    python: str = "python3"
    cpu: ArmCpuName = "cortex-a72"  # the ARM core to emulate when an arm64 image runs on x86


register_target_type(TargetType(name="docker", config=DockerTargetConfig, make=DockerTarget, runs_torch=False,
                                 interleaved_timing=True))
