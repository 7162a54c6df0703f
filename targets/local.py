"""local: the agent in a subprocess on this machine."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from targets.base import AGENT, BenchRequest, failed, parse_agent_output


class LocalTarget:
    def __init__(self, name: str = "local", python: str | None = None):
        self.name = name
        self.python = python or sys.executable

    def bench(self, model_path: Path, fmt: str, request: BenchRequest) -> dict:
        eval_npz = str(request.eval_npz) if request.eval_npz else None
        cmd = [self.python, str(AGENT), *request.agent_args(str(model_path), fmt, eval_npz)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=request.timeout)
        except subprocess.TimeoutExpired:
            return failed(f"target {self.name}: timed out after {request.timeout:.0f} s")
        except OSError as err:
            return failed(f"target {self.name}: cannot start {self.python}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)
