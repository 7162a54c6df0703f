"""A real OpenSSH server on 127.0.0.1 for the ssh adapter's tests: the host's x86 sshd, or an aarch64 sshd
running emulated inside the arm64 userland (a Raspberry Pi stand-in, `uname -m` says aarch64).

Throwaway host and client keys, key-only login, a free port, readiness polled with ssh-keyscan, stopped by
killing its process group (sessions included).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgeship.targets.emulation.chroot import chroot_argv, chroot_env
from edgeship.targets.emulation.userland import SITE

CHROOT_WORK = "/work"  # where the server's folder appears inside the arm64 userland


@dataclass
class SshServer:
    port: int
    identity: Path
    known_hosts: Path
    host_key_pub: Path
    remote_work: str  # a folder the server's user may write, to use as the target's work_dir
    process: subprocess.Popen

    def target(self, name: str = "board", **overrides) -> dict:
        """A recipe `targets:` entry for this server."""
        entry = {"name": name, "type": "ssh", "host": "127.0.0.1", "port": self.port, "user": "root",
                 "identity_file": str(self.identity), "known_hosts": str(self.known_hosts),
                 "work_dir": self.remote_work}
        return {**entry, **overrides}

    def stop(self) -> None:
        """Like pulling the board's plug: sshd, its sessions (which setsid away from its group) and their work."""
        for pid in [*descendants(self.process.pid), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def sshd_missing() -> str | None:
    for tool in ("/usr/sbin/sshd", "ssh", "scp", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install openssh-server openssh-client)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def start_sshd(folder: Path, arm64_root: Path | None = None, cpu: str = "cortex-a72",
               python_path: str = SITE) -> SshServer:
    """Start sshd serving from `folder` (keys, config, remote work dir); inside `arm64_root` when given."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    keygen(folder / "host_key")
    keygen(folder / "client_key")
    shutil.copyfile(folder / "client_key.pub", folder / "authorized_keys")
    (folder / "remote").mkdir(exist_ok=True)
    port = free_port()
    seen = CHROOT_WORK if arm64_root else str(folder)  # the folder as the server sees it
    lines = ["ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {seen}/host_key",
             f"AuthorizedKeysFile {seen}/authorized_keys", "PasswordAuthentication no",
             "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "PermitRootLogin prohibit-password",
             "StrictModes no", "UsePAM no", f"PidFile {seen}/sshd.pid", "Subsystem sftp internal-sftp"]
    if arm64_root:
        # sshd clears the environment: the emulated CPU and the runtimes' folder must be set for each session.
        lines.append(f"SetEnv QEMU_CPU={cpu} PYTHONPATH={python_path} HOME=/tmp")
    (folder / "sshd_config").write_text("\n".join(lines) + "\n")
    command = ["/usr/sbin/sshd", "-D", "-e", "-f", f"{seen}/sshd_config"]
    if arm64_root:
        from edgeship.targets.emulation.arm_cpus import fake_cpuinfo

        (folder / "cpuinfo").write_text(fake_cpuinfo(cpu, 4))
        argv, env = chroot_argv(arm64_root, folder, folder / "cpuinfo", command), chroot_env(cpu)
    else:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        argv, env = command, None
    log = open(folder / "sshd.log", "w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log.close()
    host_key_pub = folder / "host_key.pub"
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key_pub.read_text().split(' ')[0]} "
                           f"{host_key_pub.read_text().split(' ')[1]}\n")
    server = SshServer(port, folder / "client_key", known_hosts, host_key_pub,
                       f"{CHROOT_WORK if arm64_root else str(folder)}/remote", process)
    _wait_ready(server, folder, timeout=60)
    return server


def _wait_ready(server: SshServer, folder: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()[-500:]}")
        scan = subprocess.run(["ssh-keyscan", "-T", "2", "-p", str(server.port), "127.0.0.1"], capture_output=True,
                              text=True)
        if scan.stdout.strip():
            return
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"sshd on port {server.port} not ready after {timeout:.0f} s")
