"""local: the agent in a subprocess on this machine (in a temp folder), optionally pinned to CPUs with taskset."""
from __future__ import annotations

import shutil
import sys
from typing import Literal

from pydantic import Field

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type
from edgeship.targets.agent_zipapp import AGENT_NAME
from edgeship.targets.base import AgentTarget, failed, parse_agent_output
from edgeship.targets.process import DeadlineExceeded, run_with_deadline
from edgeship.targets.transport import FolderSession


class LocalSession(FolderSession):
    def __init__(self, transport: "LocalTransport"):
        super().__init__("edgeship-local-")
        self.transport = transport

    def run(self, agent_args: list[str], timeout: float) -> dict:
        t = self.transport
        pin = ["taskset", "-c", t.cpuset] if t.cpuset else []
        if pin and shutil.which("taskset") is None:
            return failed(f"target {t.name}: cpuset needs taskset (apt-get install util-linux)")
        try:
            proc = run_with_deadline([*pin, t.python, str(self.folder / AGENT_NAME), *agent_args], timeout)
        except DeadlineExceeded as err:
            return failed(f"target {t.name}: {err}")
        except OSError as err:
            return failed(f"target {t.name}: cannot start {t.python}: {err}")
        return parse_agent_output(proc.stdout, proc.stderr, proc.returncode)


class LocalTransport:
    emulated = False

    def __init__(self, name: str, python: str | None = None, cpuset: str | None = None):
        self.name, self.python, self.cpuset = name, python or sys.executable, cpuset

    def open(self) -> LocalSession:
        return LocalSession(self)

    def details(self) -> dict:
        return {}


class LocalTarget(AgentTarget):
    def __init__(self, name: str = "local", python: str | None = None, cpuset: str | None = None):
        super().__init__(name, LocalTransport(name, python, cpuset))


class LocalTargetConfig(TargetBase):
    type: Literal["local"] = "local"  # the agent in a subprocess on this machine
    python: str | None = None  # interpreter that runs the agent; default: the one running edgeship
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")  # taskset -c list, e.g. "1" or "0-1"


register_target_type(TargetType(
    name="local", config=LocalTargetConfig, runs_torch=True, interleaved_timing=True,
    make=lambda cfg: LocalTarget(name=cfg.name, python=cfg.python, cpuset=cfg.cpuset)))
