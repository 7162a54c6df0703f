"""Run a command inside an arm64 userland folder, emulated through binfmt, in a private mount namespace.

The mounts (/proc, /sys, /dev, the fake cpuinfo, the work folder) live only as long as the command: when it
exits, the namespace and its mounts go with it, so a crash or a kill leaves nothing mounted behind.
Paths reach the script as positional arguments ("$1"), never pasted into its text.
"""
from __future__ import annotations

from pathlib import Path

from edgeship.targets.emulation.userland import SITE

_SCRIPT = r'''set -e
root=$1 work=$2 cpuinfo=$3; shift 3
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind "$cpuinfo" "$root/proc/cpuinfo"
mount --bind "$work" "$root/work"
exec chroot "$root" "$@"
'''


def chroot_argv(root: Path, work: Path, cpuinfo: Path, command: list[str]) -> list[str]:
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _SCRIPT, "sh",
            str(root), str(work), str(cpuinfo), *command]


def chroot_env(cpu: str, python_path: str = SITE) -> dict[str, str]:
    """The whole environment inside: nothing of the host's leaks in (its PYTHONPATH would break Python)."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "PYTHONPATH": python_path, "QEMU_CPU": cpu,
            "LANG": "C.UTF-8"}
