"""local: the agent in a subprocess on this machine, optionally pinned to CPUs with taskset."""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.targets import TargetBase, TargetType, register_target_type
from targets.base import AGENT, BenchRequest, failed, parse_agent_output, with_target
from targets.process import DeadlineExceeded, run_with_deadline


class LocalTarget:
    emulated = False

    def __init__(self, name: str = "local", python: str | None = None, cpuset: str | None = None):
        self.name = name
        self.python = python or sys.executable
        self.cpuset = cpuset

    def _run(self, agent_args: list[str], timeout: float) -> dict:
        pin = ["taskset", "-c", self.cpuset] if self.cpuset else []
        if pin and shutil.which("taskset") is None:
            return failed(f"target {self.name}: cpuset needs taskset (apt-get install util-linux)")
        try:
            proc = run_with_deadline([*pin, self.python, str(AGENT), *agent_args], timeout)
        except DeadlineExceeded as err:
            return failed(f"target {self.name}: {err}")
        except OSError as err:
            return failed(f"target {self.name}: cannot start {self.python}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def bench(self, model_path: Path, fmt: str, request: BenchRequest) -> dict:
        eval_npz = str(request.eval_npz) if request.eval_npz else None
        result = self._run(request.agent_args(str(model_path), fmt, eval_npz), request.timeout)
        return with_target(result, self)

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        return [self.bench(path, fmt, request) for path, fmt in models]

    def probe(self, timeout: float = 60.0) -> dict:
        with tempfile.TemporaryDirectory() as work:
            return with_target(self._run(["--probe", work], timeout), self)


class LocalTargetConfig(TargetBase):
    type: Literal["local"] = "local"
    python: str | None = None  # interpreter that runs the agent; default: the one running edgeship
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")  # taskset -c list, e.g. "1" or "0-1"


register_target_type(TargetType(
    name="local", config=LocalTargetConfig, runs_torch=True, interleaved_timing=True,
    make=lambda cfg: LocalTarget(name=cfg.name, python=cfg.python, cpuset=cfg.cpuset)))
