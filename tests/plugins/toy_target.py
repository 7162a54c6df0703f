"""A toy target-type plug-in (docs/extending.md): `sandbox`, the agent in a throw-away folder of this machine.

A target type is a transport; edgeship's agent runner does the rest. Here: open = a fresh folder, push = copy
(FolderSession), run = the agent there with a deadline and an empty environment (its JSON result on stdout),
close = remove the folder.
"""
from __future__ import annotations

import sys
from typing import Literal

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type
from edgeship.targets.agent_zipapp import AGENT_NAME
from edgeship.targets.base import AgentTarget, failed, parse_agent_output
from edgeship.targets.process import DeadlineExceeded, run_with_deadline
from edgeship.targets.transport import FolderSession


class SandboxTargetConfig(TargetBase):
    type: Literal["sandbox"]
    python: str = sys.executable


class SandboxSession(FolderSession):
    def __init__(self, cfg: SandboxTargetConfig):
        super().__init__("edgeship-sandbox-")
        self.cfg = cfg

    def run(self, agent_args: list[str], timeout: float) -> dict:
        try:
            proc = run_with_deadline([self.cfg.python, str(self.folder / AGENT_NAME), *agent_args], timeout, env={})
        except DeadlineExceeded as err:
            return failed(f"target {self.cfg.name}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)


class SandboxTransport:
    emulated = False

    def __init__(self, cfg: SandboxTargetConfig):
        self.cfg = cfg

    def open(self) -> SandboxSession:
        return SandboxSession(self.cfg)

    def details(self) -> dict:
        return {}


register_target_type(TargetType(
    name="sandbox", config=SandboxTargetConfig, runs_torch=False, interleaved_timing=True,
    make=lambda cfg: AgentTarget(cfg.name, SandboxTransport(cfg))))
