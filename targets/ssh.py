"""ssh: the agent on a board reached with OpenSSH (a Raspberry Pi, a Jetson, any Linux box with Python).

The system's ssh and scp do the work, so ~/.ssh/config aliases, agents and jump hosts behave as they do for the
user. Host keys are checked strictly (an unknown or changed key is refused) unless trust_on_first_use records a
new one. Remote commands are argument lists joined with shlex quoting: nothing the recipe says is interpreted
by the remote shell. Only the agent (agent.pyz), the eval set and the model files are copied, into a fresh folder
that is checked with sha256sum before the agent runs and removed afterwards.
"""
from __future__ import annotations

import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type
from edgeship.targets.agent_zipapp import AGENT_NAME
from edgeship.targets.base import AgentTarget, checksums, failed, parse_agent_output
from edgeship.targets.process import DeadlineExceeded, run_with_deadline
from edgeship.targets.transport import TransportError

HOST_KEY_ERRORS = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
                   "No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known")
# Runs in the remote folder: verify every copied file, then hand over to the agent (under a remote timeout too).
_VERIFY_AND_RUN = 'cd "$1" && shift && sha256sum -c --quiet SHA256SUMS && exec "$@"'


class SshSession:
    """A fresh folder on the board; every push re-sends SHA256SUMS of all files pushed so far, and the agent runs
    only if they all check."""

    def __init__(self, transport: "SshTransport"):
        self.transport = transport
        proc = transport._ssh(["sh", "-c", 'mkdir -p "$1" && mktemp -d "$1/edgeship.XXXXXX"', "sh",
                               transport.cfg.work_dir], 60)
        folder = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""
        if not folder:
            raise TransportError(f"{transport.cfg.host}: cannot create a work folder under "
                                 f"{transport.cfg.work_dir}: {proc.stderr.strip()[:200]}")
        self.where = self.probe_dir = folder
        self.sums: dict[str, str] = {}  # SHA256SUMS line of every file pushed, by name: each file hashed once

    def push(self, files: list[Path], timeout: float = 600) -> None:
        self.sums.update({f.name: checksums([f]) for f in files})
        with tempfile.TemporaryDirectory() as tmp:
            sums = Path(tmp) / "SHA256SUMS"
            sums.write_text("".join(self.sums.values()))
            self.transport._scp([*files, sums], self.where, timeout)

    def run(self, agent_args: list[str], timeout: float) -> dict:
        t = self.transport
        remote = ["timeout", str(int(timeout)), t.cfg.python, AGENT_NAME, *agent_args]
        proc = t._ssh(["sh", "-c", _VERIFY_AND_RUN, "sh", self.where, *remote], timeout + 30)
        if proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr and "sha256sum" in proc.stderr:
            bad = [ln.split(":")[0] for ln in (proc.stdout + proc.stderr).splitlines() if ln.endswith("FAILED")]
            return failed(f"target {t.cfg.name}: checksum mismatch on {t.cfg.host} for {', '.join(bad)}: "
                          f"the copy was corrupted, not run")
        if proc.returncode == 124:
            return failed(f"target {t.cfg.name}: agent timed out after {timeout:.0f} s on {t.cfg.host}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def close(self) -> None:
        try:
            self.transport._ssh(["rm", "-rf", "--", self.where], 60)
        except TransportError:
            pass  # the board went away; the folder is in its temp dir


class SshTransport:
    def __init__(self, cfg):
        self.cfg = cfg
        self.emulated = cfg.emulated

    def open(self) -> SshSession:
        return SshSession(self)

    def details(self) -> dict:
        return {}

    # -- the two OpenSSH commands, with the same options ------------------------------------------------------
    def _options(self) -> list[str]:
        c = self.cfg
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={c.connect_timeout}", "-o", "ServerAliveInterval=5",
                "-o", "ServerAliveCountMax=3",
                "-o", f"StrictHostKeyChecking={'accept-new' if c.trust_on_first_use else 'yes'}"]
        if c.ssh_config:
            opts += ["-F", c.ssh_config]
        if c.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={c.known_hosts}"]
        if c.identity_file:
            opts += ["-i", c.identity_file, "-o", "IdentitiesOnly=yes"]
        if c.user:
            opts += ["-o", f"User={c.user}"]
        return opts

    def _ssh(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        port = ["-p", str(self.cfg.port)] if self.cfg.port else []
        return self._checked(["ssh", *self._options(), *port, self.cfg.host, "--", shlex.join(argv)], timeout)

    def _scp(self, files: list[Path], remote_dir: str, timeout: float) -> None:
        port = ["-P", str(self.cfg.port)] if self.cfg.port else []
        self._checked(["scp", "-q", *self._options(), *port, *map(str, files), f"{self.cfg.host}:{remote_dir}/"],
                      timeout)

    def _checked(self, cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
        try:
            proc = run_with_deadline(cmd, timeout)
        except DeadlineExceeded as err:
            raise TransportError(f"{self.cfg.host}: {err}") from None
        except FileNotFoundError:
            raise TransportError(f"{cmd[0]} not found: apt-get install openssh-client") from None
        if proc.returncode == 255 or (cmd[0] == "scp" and proc.returncode != 0):
            raise TransportError(self._connection_error(proc.stderr))
        return proc

    def _connection_error(self, stderr: str) -> str:
        host = self.cfg.host
        if any(marker in stderr for marker in HOST_KEY_ERRORS):
            return (f"host key of {host} is unknown or has changed: refused (strict host-key checking). Check the "
                    f"key and add it to known_hosts, or set trust_on_first_use: true for a new board")
        lines = [ln for ln in stderr.strip().splitlines() if ln and not ln.startswith(("Warning:", "**"))]
        return f"cannot reach {host}: {(lines or ['ssh failed'])[-1][:200]}"



class SshTarget(AgentTarget):
    def __init__(self, cfg):
        super().__init__(cfg.name, SshTransport(cfg))


class SshTargetConfig(TargetBase):
    type: Literal["ssh"]  # a board reached with OpenSSH
    host: str = Field(pattern=r"^[A-Za-z0-9_.:\[\]-]+$")  # a host name, address or ~/.ssh/config alias
    port: int | None = Field(None, ge=1, le=65535)  # default: ssh's own (22, or ~/.ssh/config)
    user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")  # default: ssh's own
    identity_file: str | None = None  # a private key file; default: ssh's own
    ssh_config: str | None = None  # default: ~/.ssh/config, as ssh itself reads it
    known_hosts: str | None = None  # default: ~/.ssh/known_hosts
    trust_on_first_use: bool = False  # record an unknown host key instead of refusing it (never a changed one)
    python: str = "python3"  # the board's interpreter with numpy and a runtime
    work_dir: str = "/tmp"  # a fresh folder is made in it for each run and removed after
    connect_timeout: int = Field(10, ge=1)  # seconds
    emulated: bool = False  # declare a board that is itself an emulator, so its latency is never compared


register_target_type(TargetType(name="ssh", config=SshTargetConfig, make=SshTarget, runs_torch=False,
                                 interleaved_timing=True))
