"""Transport: how the agent reaches a device. A target type is a transport; the agent runner (edgeship.targets.base.
AgentTarget) does the rest the same way for every type: push the agent, the eval set and each model, run the
agent under a deadline, read its one result, clean up.

A transport opens a Session (a work folder the device sees). `push` copies files into it, `run` runs
agent.pyz there with a deadline and returns the agent's result (pulled from stdout or a results mount), `close`
removes the folder. A failure of one run (a deadline, a crash) is a failed result; a failure of the session
itself (the board went away) raises TransportError and fails every row still to come.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class TransportError(Exception):
    """The device cannot be reached or used: the message names the host, engine or file."""


class Session(Protocol):
    where: str       # the work folder as the agent sees it
    probe_dir: str   # a writable folder the probe measures free disk in

    def push(self, files: list[Path]) -> None: ...

    def run(self, agent_args: list[str], timeout: float) -> dict: ...

    def close(self) -> None: ...


class Transport(Protocol):
    emulated: bool

    def open(self) -> Session: ...

    def details(self) -> dict:
        """Fields every result of this target carries besides `target` and `emulated` (an emulated CPU...)."""
        ...


class FolderSession:
    """A session whose work folder is a temp folder of this machine (local, Docker and chroot targets):
    push copies, close removes. Subclasses run the agent and say where the device sees the folder."""

    def __init__(self, prefix: str, where: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.folder = self.root / "work"
        self.folder.mkdir()
        self.where = where or str(self.folder)
        self.probe_dir = self.where

    def push(self, files: list[Path]) -> None:
        for source in files:
            shutil.copyfile(source, self.folder / source.name)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
