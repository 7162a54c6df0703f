"""ssh: the agent on a board reached with OpenSSH (a Raspberry Pi, a Jetson, any Linux box with Python).

The system's ssh and scp do the work, so ~/.ssh/config aliases, agents and jump hosts behave as they do for the
user. Host keys are checked strictly (an unknown or changed key is refused) unless trust_on_first_use records a
new one. Remote commands are argument lists joined with shlex quoting: nothing the recipe says is interpreted
by the remote shell. Only agent.py, the eval set and the model files are copied, into a fresh folder that is
checked with sha256sum before the agent runs and removed afterwards.
"""
from __future__ import annotations

import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.formats import model_files
from pipeline.core.targets import TargetBase, TargetType, register_target_type
from targets.base import (
    AGENT,
    BenchRequest,
    baseline_copies,
    checksums,
    failed,
    parse_agent_output,
    with_target,
)
from targets.process import DeadlineExceeded, run_with_deadline

HOST_KEY_ERRORS = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
                   "No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known")
# Runs in the remote folder: verify every copied file, then hand over to the agent (under a remote timeout too).
_VERIFY_AND_RUN = 'cd "$1" && shift && sha256sum -c --quiet SHA256SUMS && exec "$@"'


class RemoteError(Exception):
    pass


class SshTarget:
    def __init__(self, cfg):
        self.cfg = cfg
        self.name = cfg.name
        self.emulated = cfg.emulated

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
            raise RemoteError(f"{self.cfg.host}: {err}") from None
        except FileNotFoundError:
            raise RemoteError(f"{cmd[0]} not found: apt-get install openssh-client") from None
        if proc.returncode == 255 or (cmd[0] == "scp" and proc.returncode != 0):
            raise RemoteError(self._connection_error(proc.stderr))
        return proc

    def _connection_error(self, stderr: str) -> str:
        host = self.cfg.host
        if any(marker in stderr for marker in HOST_KEY_ERRORS):
            return (f"host key of {host} is unknown or has changed: refused (strict host-key checking). Check the "
                    f"key and add it to known_hosts, or set trust_on_first_use: true for a new board")
        lines = [ln for ln in stderr.strip().splitlines() if ln and not ln.startswith(("Warning:", "**"))]
        return f"cannot reach {host}: {(lines or ['ssh failed'])[-1][:200]}"

    # -- a remote work folder for one bench session -------------------------------------------------------------
    def open_folder(self) -> str:
        proc = self._ssh(["sh", "-c", 'mkdir -p "$1" && mktemp -d "$1/edgeship.XXXXXX"', "sh", self.cfg.work_dir],
                         60)
        folder = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""
        if not folder:
            raise RemoteError(f"{self.cfg.host}: cannot create a work folder under {self.cfg.work_dir}: "
                              f"{proc.stderr.strip()[:200]}")
        return folder

    def upload(self, folder: str, files: list[Path], timeout: float = 600) -> None:
        """Copy the files and a SHA256SUMS of them: the agent runs only if they all arrived intact."""
        with tempfile.TemporaryDirectory() as tmp:
            sums = Path(tmp) / "SHA256SUMS"
            sums.write_text(checksums(files))
            self._scp([*files, sums], folder, timeout)

    def run_agent(self, folder: str, agent_args: list[str], timeout: float) -> dict:
        remote = ["timeout", str(int(timeout)), self.cfg.python, "agent.py", *agent_args]
        proc = self._ssh(["sh", "-c", _VERIFY_AND_RUN, "sh", folder, *remote], timeout + 30)
        if proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr and "sha256sum" in proc.stderr:
            bad = [ln.split(":")[0] for ln in (proc.stdout + proc.stderr).splitlines() if ln.endswith("FAILED")]
            return failed(f"target {self.name}: checksum mismatch on {self.cfg.host} for {', '.join(bad)}: "
                          f"the copy was corrupted, not run")
        if proc.returncode == 124:
            return failed(f"target {self.name}: agent timed out after {timeout:.0f} s on {self.cfg.host}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def close_folder(self, folder: str) -> None:
        try:
            self._ssh(["rm", "-rf", "--", folder], 60)
        except RemoteError:
            pass  # the board went away; the folder is in its temp dir

    # -- the Target interface ----------------------------------------------------------------------------------
    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        results: list[dict] = []
        folder = None
        try:
            folder = self.open_folder()
            shared = [AGENT, *([request.eval_npz] if request.eval_npz else [])]
            eval_arg = request.eval_npz.name if request.eval_npz else None
            for model, fmt in models:
                with tempfile.TemporaryDirectory(prefix="edgeship-baseline-") as tmp:
                    baseline_files, baseline = baseline_copies(request, fmt, Path(tmp))
                    self.upload(folder, [*shared, *model_files(model, fmt), *baseline_files])
                args = request.agent_args(model.name, fmt, eval_arg, baseline)
                results.append(with_target(self.run_agent(folder, args, request.timeout), self))
        except RemoteError as err:
            results += [with_target(failed(f"target {self.name}: {err}"), self)] * (len(models) - len(results))
        finally:
            if folder:
                self.close_folder(folder)
        return results

    def probe(self, timeout: float = 120.0) -> dict:
        folder = None
        try:
            folder = self.open_folder()
            self.upload(folder, [AGENT])
            result = self.run_agent(folder, ["--probe", folder], timeout)
        except RemoteError as err:
            result = failed(f"target {self.name}: {err}")
        finally:
            if folder:
                self.close_folder(folder)
        return with_target(result, self)


class SshTargetConfig(TargetBase):
    type: Literal["ssh"]
    host: str = Field(pattern=r"^[A-Za-z0-9_.:\[\]-]+$")  # a host name, address or ~/.ssh/config alias
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    identity_file: str | None = None
    ssh_config: str | None = None  # default: ~/.ssh/config, as ssh itself reads it
    known_hosts: str | None = None  # default: ~/.ssh/known_hosts
    trust_on_first_use: bool = False  # record an unknown host key instead of refusing it (never a changed one)
    python: str = "python3"
    work_dir: str = "/tmp"
    connect_timeout: int = Field(10, ge=1)
    emulated: bool = False  # declare a board that is itself an emulator, so its latency is never compared


register_target_type(TargetType(name="ssh", config=SshTargetConfig, make=SshTarget, runs_torch=False,
                                 interleaved_timing=True))
