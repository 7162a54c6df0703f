"""What every stage may read besides its declared inputs (edgeship.pipeline.stages.inputs): the recipe, the run's data,
the run folder, the console."""
from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.core.infrastructure.progress import stderr_console
from edgeship.pipeline.data.datasets import Dataset


@dataclass
class Context:
    recipe: Recipe
    run: RunFolder
    data: Dataset
    console: Console = field(default_factory=stderr_console)
    search: dict | None = None  # --search's outcome (pick, trials, seconds), for the report

    def say(self, message: str) -> None:
        self.console.print(message)
