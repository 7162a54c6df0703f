"""A Debian userland with Python and the three runtimes, for an emulated board, an SSH stand-in or a Docker image.

Built in about a minute with nothing emulated: mmdebstrap's `extract` variant unpacks the .debs of the target
architecture, then the host's pip installs that architecture's wheels into ROOT/opt/site. Cached by what went
into it, in a folder outside any checkout.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.keys import content_key

SUITE = "bookworm"
# openssh-server too: the same folder serves as an SSH-reachable board stand-in.
DEBS = ["python3.11", "libstdc++6", "libgcc-s1", "libgomp1", "libc-bin", "dash", "coreutils", "openssh-server",
        "openssh-sftp-server"]
RUNTIMES = ["numpy", "onnxruntime", "openvino", "ai-edge-litert"]
WHEEL_ARCH = {"arm64": "aarch64", "amd64": "x86_64"}
SITE = "/opt/site"  # PYTHONPATH inside the userland
# A second, older stack many boards still run: tflite-runtime (TensorFlow Lite's own wheel), which needs numpy<2.
TFLITE_RUNTIME_SITE = "/opt/site-tflite-runtime"
TFLITE_RUNTIME_PINS = ["numpy<2", "tflite-runtime==2.14.0"]
PYTHON = "/usr/bin/python3.11"
DEFAULT_CACHE = Path(os.environ.get("EDGESHIP_CACHE", Path.home() / ".cache" / "edgeship")) / "userland"
BUILDER_VERSION = 2  # bump when the steps below change what ends up in the folder


def runtime_pins() -> list[str]:
    """The host's runtime versions, so a board and this machine run the same code."""
    pins = []
    for name in RUNTIMES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def userland(arch: str, cache: Path = DEFAULT_CACHE) -> Path:
    """The cached userland folder for `arch`, built on first use."""
    if arch not in WHEEL_ARCH:
        raise EdgeshipError(f"userland arch {arch!r}: use one of {', '.join(WHEEL_ARCH)}")
    pins = runtime_pins()
    key = content_key("userland", arch, SUITE, DEBS, pins, TFLITE_RUNTIME_PINS, BUILDER_VERSION)
    root = cache / f"{arch}-{key}"
    if (root / ".complete").is_file():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; a second waits, then finds it built
        if not (root / ".complete").is_file():
            _build(root, arch, DEBS, pins)
    return root


def _build(root: Path, arch: str, debs: list[str], pins: list[str]) -> None:
    if shutil.which("mmdebstrap") is None:
        raise EdgeshipError("mmdebstrap not found: apt-get install mmdebstrap (builds the device userland)")
    tmp = root.with_name(f".tmp-{root.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    _run(["mmdebstrap", f"--arch={arch}", "--variant=extract", f"--include={','.join(debs)}", SUITE, str(tmp)],
         "mmdebstrap")
    wheel_arch = WHEEL_ARCH[arch]
    platforms = [f"manylinux_2_{v}_{wheel_arch}" for v in range(17, 37)] + [f"manylinux2014_{wheel_arch}"]
    for site, packages in ((SITE, pins), (TFLITE_RUNTIME_SITE, TFLITE_RUNTIME_PINS)):
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-conflicts",
              "--target", str(tmp / site.lstrip("/")), "--only-binary=:all:", "--python-version", "3.11",
              "--implementation", "cp", *[arg for p in platforms for arg in ("--platform", p)], *packages],
             f"pip install {' '.join(packages)}")
    _write_system_files(tmp)
    (tmp / ".complete").write_text(" ".join(pins) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)


def _write_system_files(root: Path) -> None:
    """What the extract variant leaves out because no maintainer script ran: users, mount points, temp."""
    etc = root / "etc"
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for folder in ("proc", "sys", "dev", "run/sshd", "root", "work", "in", "out"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    python3 = root / "usr" / "bin" / "python3"  # the python3 package's link, which `extract` does not make
    if not python3.exists():
        python3.symlink_to("python3.11")


def rootfs_tar(root: Path) -> Path:
    """The userland as one tar (for a FROM scratch Docker image), cached beside it."""
    tar = root.with_name(root.name + ".tar")
    if not tar.is_file():
        # a name of its own per writer: the background device prep and a test fixture may both find it missing
        tmp = tar.with_name(f".tmp-{os.getpid()}-{tar.name}")
        _run(["tar", "-C", str(root), "--exclude=./.complete", "-cf", str(tmp), "."], "tar")
        tmp.rename(tar)
    return tar


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise EdgeshipError(f"building the device userland: {what} failed: {tail[:300]}")
