"""Target adapters by the recipe's `type`."""
from __future__ import annotations

from targets.base import Target


def make_target(cfg) -> Target:
    """An adapter for one `targets:` entry (imports only the adapter asked for)."""
    if cfg.type == "local":
        from targets.local import LocalTarget

        return LocalTarget(name=cfg.name, python=cfg.python, cpuset=cfg.cpuset)
    if cfg.type == "qemu-arm64":
        from targets.qemu import QemuArm64Target

        return QemuArm64Target(name=cfg.name, rootfs=cfg.rootfs, cpu=cfg.cpu, cores=cfg.cores, python=cfg.python,
                               python_path=cfg.python_path)
    if cfg.type == "ssh":
        from targets.ssh import SshTarget

        return SshTarget(cfg)
    if cfg.type == "docker":
        from targets.docker import DockerTarget

        return DockerTarget(cfg)
    raise ValueError(f"unknown target type {cfg.type!r}")
