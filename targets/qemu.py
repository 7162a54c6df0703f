"""qemu-arm64: the agent in an arm64 userland on this x86 machine, through binfmt and qemu-user, no daemon.

Accuracy is the ARM kernels' own (int8 rounding differs from x86); latency is the emulator's, about 100x slower
than a board, so every result says `emulated: true` and the report never ranks it beside native latency.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type
from edgeship.targets.agent_zipapp import AGENT_NAME
from edgeship.targets.base import AgentTarget, failed, parse_agent_output
from edgeship.targets.emulation.arm_cpus import ArmCpuName, fake_cpuinfo
from edgeship.targets.emulation.binfmt import EmulationUnavailable, ensure_aarch64
from edgeship.targets.emulation.chroot import chroot_argv, chroot_env
from edgeship.targets.emulation.userland import SITE
from edgeship.targets.process import DeadlineExceeded, run_with_deadline
from edgeship.targets.transport import FolderSession, TransportError


class QemuSession(FolderSession):
    def __init__(self, transport: "QemuArm64Transport", root: Path):
        super().__init__("edgeship-qemu-", where="/work")
        self.transport, self.rootfs = transport, root

    def run(self, agent_args: list[str], timeout: float) -> dict:
        t = self.transport
        cpuinfo = self.root / "cpuinfo"
        cpuinfo.write_text(fake_cpuinfo(t.cpu, t.cores))
        argv = chroot_argv(self.rootfs, self.folder, cpuinfo, [t.python, f"/work/{AGENT_NAME}", *agent_args])
        try:
            proc = run_with_deadline(argv, timeout, env=chroot_env(t.cpu, t.python_path or SITE))
        except DeadlineExceeded as err:
            return failed(f"target {t.name}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)


class QemuArm64Transport:
    emulated = True

    def __init__(self, name: str, rootfs: str | None = None, cpu: str = "cortex-a72", cores: int = 4,
                 python: str = "/usr/bin/python3.11", python_path: str | None = None):
        self.name, self.cpu, self.cores, self.python = name, cpu, cores, python
        self.python_path = python_path
        self._rootfs = Path(rootfs) if rootfs else None

    def open(self) -> QemuSession:
        try:
            ensure_aarch64()
            if self._rootfs is None:
                from edgeship.targets.emulation.userland import userland  # built once, cached

                self._rootfs = userland("arm64")
        except EmulationUnavailable as err:
            raise TransportError(str(err)) from None
        except Exception as err:  # building the userland: the reason, not a traceback
            raise TransportError(f"no arm64 userland: {err}") from None
        if not (self._rootfs / self.python.lstrip("/")).exists():
            raise TransportError(f"rootfs {self._rootfs} has no {self.python}")
        return QemuSession(self, self._rootfs)

    def details(self) -> dict:
        return {"emulated_cpu": self.cpu}


class QemuArm64Target(AgentTarget):
    def __init__(self, name: str, **transport):
        super().__init__(name, QemuArm64Transport(name, **transport))


class QemuArm64TargetConfig(TargetBase):
    type: Literal["qemu-arm64"]  # an arm64 userland through qemu-user: accuracy yes, latency never
    rootfs: str | None = None  # an arm64 userland with python and runtimes; none = build edgeship's (cached)
    cpu: ArmCpuName = "cortex-a72"  # the ARM core qemu emulates
    cores: int = Field(4, ge=1, le=64)  # cores the fake ARM cpuinfo shows
    python: str = "/usr/bin/python3.11"  # the interpreter inside the userland
    # PYTHONPATH inside the userland; edgeship's has /opt/site (current runtimes) and /opt/site-tflite-runtime.
    python_path: str | None = None


register_target_type(TargetType(
    name="qemu-arm64", config=QemuArm64TargetConfig, runs_torch=False, interleaved_timing=True,
    native_latency=False,
    make=lambda cfg: QemuArm64Target(name=cfg.name, rootfs=cfg.rootfs, cpu=cfg.cpu, cores=cfg.cores,
                                     python=cfg.python, python_path=cfg.python_path)))
