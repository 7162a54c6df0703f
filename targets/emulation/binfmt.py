"""Run arm64 programs on x86 through the kernel's binfmt_misc and qemu-user-static.

Debian's qemu-user-static registers nothing inside a container like this one; root registers it from the
package's own binfmt.d entry. Its F flag opens the interpreter at registration, so chroots and containers
need no qemu binary inside.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


class EmulationUnavailable(RuntimeError):
    pass


def ensure_aarch64() -> None:
    """Make aarch64 binaries runnable here, or say why they cannot be."""
    if platform.machine() == "aarch64" or (BINFMT / "qemu-aarch64").is_file():
        return
    if not QEMU_CONF.is_file():
        raise EmulationUnavailable(f"{QEMU_CONF} missing: apt-get install qemu-user-static")
    if os.geteuid() != 0:
        raise EmulationUnavailable("registering qemu-aarch64 with binfmt_misc needs root")
    if not os.path.ismount(BINFMT):
        proc = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise EmulationUnavailable(f"cannot mount {BINFMT}: {proc.stderr.strip()[:200]}")
    try:
        (BINFMT / "register").write_bytes(QEMU_CONF.read_bytes().strip())
    except OSError as err:
        if not (BINFMT / "qemu-aarch64").is_file():  # a concurrent registration is fine
            raise EmulationUnavailable(f"cannot register qemu-aarch64 with binfmt_misc: {err}") from err
