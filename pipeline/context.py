"""What every stage may read besides its source artifact: the recipe, the data, the run folder, the console."""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from calibration.calibration_set import CalibrationSet
from pipeline.data import Dataset
from pipeline.recipe import Recipe
from pipeline.runfolder import RunFolder


@dataclass
class Context:
    recipe: Recipe
    run: RunFolder
    data: Dataset
    console: Console = field(default_factory=lambda: Console(stderr=True))
    calibration: CalibrationSet | None = None
    teacher: object | None = None  # the teacher Artifact, for stages that distill from it

    def say(self, message: str) -> None:
        self.console.print(message)


@contextlib.contextmanager
def output_to(log: Path):
    """Send what converters print (at the file-descriptor level: C++ logs too) into the stage's log file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
