"""Run one device command with a deadline; on timeout kill its whole process group, so nothing hangs on."""
from __future__ import annotations

import os
import signal
import subprocess


class DeadlineExceeded(Exception):
    pass


def run_with_deadline(cmd: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise DeadlineExceeded(f"timed out after {timeout:.0f} s") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
