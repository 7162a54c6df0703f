"""The device userlands (amd64 and arm64, with their tars for the Docker images), built in a background process
while the CPU-bound tests run. Building them is mostly downloading .debs and wheels: started when the device
tests are needed first, it left the CPU idle for minutes of a fresh machine's `make test`.

The device fixtures wait for it before they touch a userland. If the background build failed, they build it
themselves and fail with its error, so nothing here can hide a broken build.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ARCHES = ("amd64", "arm64")
WAIT_SECONDS = 1800  # a slow mirror; the fixture then builds (and reports) on its own
_process: subprocess.Popen | None = None


def can_build() -> bool:
    return os.geteuid() == 0 and shutil.which("mmdebstrap") is not None and shutil.which("unshare") is not None


def start(log: Path) -> None:
    """Start building in the background (once per test session; nothing when this machine cannot build)."""
    global _process
    if _process is not None or not can_build():
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        _process = subprocess.Popen([sys.executable, "-m", "tests.support.device_prep"], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
                                    start_new_session=True)


def wait() -> None:
    """Block until the background build has finished (at once when none was started)."""
    if _process is None:
        return
    try:
        _process.wait(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        _process.kill()
        _process.wait()


def main() -> int:
    from edgeship.targets.emulation.userland import rootfs_tar, userland

    for arch in ARCHES:
        rootfs_tar(userland(arch))
        print(f"userland {arch}: ready", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
