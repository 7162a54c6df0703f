"""What every stage may read besides its declared inputs (edgeship.pipeline.stages.inputs): the recipe, the run's data,
the run folder, the console."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from rich.console import Console

from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.core.contracts.tasks import Task, task_named
from edgeship.pipeline.core.infrastructure.progress import stderr_console
from edgeship.pipeline.data.datasets import Dataset


@dataclass
class Context:
    recipe: Recipe
    run: RunFolder
    data: Dataset
    console: Console = field(default_factory=stderr_console)
    search: dict | None = None  # --search's outcome (pick, trials, seconds), for the report

    @cached_property
    def task(self) -> Task:
        """The recipe's task with the supervised loss its `loss:` section picks (class weights computed once)."""
        task = task_named(self.recipe.task)
        if task.make_loss is None:
            return task
        loss, self.loss_record = task.make_loss(self.recipe.loss, self.data.train, self.data.num_classes)
        return replace(task, loss=loss)

    loss_record: dict | None = None  # what the task's loss is (kind, class weights): recorded in the artifacts

    def say(self, message: str) -> None:
        self.console.print(message)
