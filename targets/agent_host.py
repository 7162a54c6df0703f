"""The device agent as the host runs it in-process (parity, the int8 budget, mask previews): the agent's own
runners and metrics plus the extension modules of the registered plug-ins (a format's runner, a task's metric),
so a plug-in runs here exactly as it runs on a device."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.plugins import agent_extension_files
from edgeship.targets.agent import batched_runner, evaluate_details
from edgeship.targets.agent import open_runner as _open_runner
from edgeship.targets.agent.extensions import load_file

__all__ = ["batched_runner", "evaluate_details", "open_runner", "with_extensions"]


def with_extensions() -> None:
    for path in agent_extension_files():
        load_file(str(path))


def open_runner(runner: str, path: str, threads: int = 1, batch: int = 1):
    with_extensions()
    return _open_runner(runner, path, threads, batch)
