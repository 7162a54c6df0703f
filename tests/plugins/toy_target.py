"""A toy target-type plug-in (docs/extending.md): `sandbox`, the agent in a throw-away folder of this machine.

What a remote transport does, without a network: push (copy the agent, the eval set and the model files into
a fresh folder), run with a deadline (in that folder, with an empty environment), pull (the JSON result on
stdout), clean up (remove the folder).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Literal

from pipeline.core.targets import TargetBase, TargetType, register_target_type
from targets.base import AGENT, BenchRequest, failed, parse_agent_output, stage, with_target
from targets.process import DeadlineExceeded, run_with_deadline


class SandboxTargetConfig(TargetBase):
    type: Literal["sandbox"]
    python: str = sys.executable


class SandboxTarget:
    emulated = False

    def __init__(self, cfg: SandboxTargetConfig):
        self.name, self.python = cfg.name, cfg.python

    def _run(self, work: Path, args: list[str], timeout: float) -> dict:
        try:
            proc = run_with_deadline([self.python, str(work / "agent.py"), *args], timeout, env={})
        except DeadlineExceeded as err:
            return failed(f"target {self.name}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        results = []
        for model, fmt in models:
            with tempfile.TemporaryDirectory(prefix="edgeship-sandbox-") as folder:
                work = Path(folder)
                stage(work, model, fmt, request.eval_npz)
                eval_arg = request.eval_npz.name if request.eval_npz else None
                args = request.agent_args(str(work / model.name), fmt, eval_arg and str(work / eval_arg))
                results.append(with_target(self._run(work, args, request.timeout), self))
        return results

    def probe(self) -> dict:
        with tempfile.TemporaryDirectory(prefix="edgeship-sandbox-") as folder:
            work = Path(folder)
            shutil.copyfile(AGENT, work / AGENT.name)
            return with_target(self._run(work, ["--probe", folder], 60.0), self)


register_target_type(TargetType(name="sandbox", config=SandboxTargetConfig, make=SandboxTarget, runs_torch=False,
                                interleaved_timing=False))
