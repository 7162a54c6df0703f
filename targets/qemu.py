"""qemu-arm64: the agent in an arm64 userland on this x86 machine, through binfmt and qemu-user, no daemon.

Accuracy is the ARM kernels' own (int8 rounding differs from x86); latency is the emulator's, about 100x slower
than a board, so every result says `emulated: true` and the report never ranks it beside native latency.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.targets import TargetBase, TargetType, register_target_type
from targets.arm_cpus import ArmCpuName, fake_cpuinfo
from targets.base import AGENT, BenchRequest, failed, parse_agent_output, stage, unsupported, with_target
from targets.binfmt import EmulationUnavailable, ensure_aarch64
from targets.chroot import chroot_argv, chroot_env
from targets.process import DeadlineExceeded, run_with_deadline
from targets.userland import SITE


class QemuArm64Target:
    emulated = True

    def __init__(self, name: str, rootfs: str | None = None, cpu: str = "cortex-a72", cores: int = 4,
                 python: str = "/usr/bin/python3.11", python_path: str | None = None):
        self.name, self.cpu, self.cores, self.python = name, cpu, cores, python
        self.python_path = python_path
        self._rootfs = Path(rootfs) if rootfs else None

    def _root(self) -> Path:
        if self._rootfs is None:
            from targets.userland import userland  # built once, cached

            self._rootfs = userland("arm64")
        if not (self._rootfs / self.python.lstrip("/")).exists():
            raise FileNotFoundError(f"rootfs {self._rootfs} has no {self.python}")
        return self._rootfs

    def _run(self, work: Path, agent_args: list[str], timeout: float) -> dict:
        try:
            ensure_aarch64()
            root = self._root()
        except (EmulationUnavailable, FileNotFoundError) as err:
            return failed(f"target {self.name}: {err}")
        except Exception as err:  # building the userland: the reason, not a traceback
            return failed(f"target {self.name}: no arm64 userland: {err}")
        cpuinfo = work / "cpuinfo"
        cpuinfo.write_text(fake_cpuinfo(self.cpu, self.cores))
        argv = chroot_argv(root, work, cpuinfo, [self.python, "/work/agent.py", *agent_args])
        try:
            proc = run_with_deadline(argv, timeout, env=chroot_env(self.cpu, self.python_path or SITE))
        except DeadlineExceeded as err:
            return failed(f"target {self.name}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        if request.baseline_model:
            return unsupported(self, "interleaved baseline timing", len(models))
        results = []
        for model, fmt in models:
            with tempfile.TemporaryDirectory(prefix="edgeship-qemu-") as tmp:
                work = Path(tmp)
                stage(work, model, fmt, request.eval_npz)
                eval_arg = f"/work/{request.eval_npz.name}" if request.eval_npz else None
                result = self._run(work, request.agent_args(f"/work/{model.name}", fmt, eval_arg), request.timeout)
            results.append(self._describe(result))
        return results

    def probe(self, timeout: float = 120.0) -> dict:
        with tempfile.TemporaryDirectory(prefix="edgeship-qemu-") as tmp:
            shutil.copyfile(AGENT, Path(tmp) / AGENT.name)
            return self._describe(self._run(Path(tmp), ["--probe", "/work"], timeout))

    def _describe(self, result: dict) -> dict:
        return with_target({**result, "emulated_cpu": self.cpu}, self)


class QemuArm64TargetConfig(TargetBase):
    type: Literal["qemu-arm64"]
    rootfs: str | None = None  # an arm64 userland with python and runtimes; none = build edgeship's (cached)
    cpu: ArmCpuName = "cortex-a72"
    cores: int = Field(4, ge=1, le=64)
    python: str = "/usr/bin/python3.11"
    # PYTHONPATH inside the userland; edgeship's has /opt/site (current runtimes) and /opt/site-tflite-runtime.
    python_path: str | None = None


register_target_type(TargetType(
    name="qemu-arm64", config=QemuArm64TargetConfig, runs_torch=False, interleaved_timing=False,
    native_latency=False,
    make=lambda cfg: QemuArm64Target(name=cfg.name, rootfs=cfg.rootfs, cpu=cfg.cpu, cores=cfg.cores,
                                     python=cfg.python, python_path=cfg.python_path)))
