"""Progress shared by training and benchmarking: a rich bar on a terminal, whole lines in a log.

Rich renders a bar into the console's width, which is 80 columns when stderr is a file or a CI log, and its
columns then cut the figures users read ("loss 1.2637 … 3692 i…"). Off a terminal every update is one full line.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class LineProgress:
    """The part of rich.progress.Progress that edgeship uses, printing one unwrapped line per update."""

    def __init__(self, console: Console):
        self.console = console
        self.tasks: dict[int, dict] = {}

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: int, info: str = "") -> int:
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "done": 0,
                                       "start": time.perf_counter()}
        return len(self.tasks) - 1

    def advance(self, task: int, advance: int = 1) -> None:
        self.update(task, advance=advance)

    def update(self, task: int, advance: int = 0, info: str = "") -> None:
        state = self.tasks[task]
        state["done"] += advance
        elapsed = time.perf_counter() - state["start"]
        self.console.print(f"  {state['description']} {state['done']}/{state['total']} {elapsed:.0f}s  {info}".rstrip(),
                           soft_wrap=True, highlight=False, markup=False)


def progress_bar(console: Console) -> Progress | LineProgress:
    if not console.is_terminal:
        return LineProgress(console)
    return Progress(TextColumn("  {task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console)


def stderr_console(quiet: bool = False) -> Console:
    """Where edgeship's own lines go. Off a terminal a line is never wrapped or cut at rich's 80 columns."""
    console = Console(stderr=True, quiet=quiet)
    return console if console.is_terminal else Console(stderr=True, quiet=quiet, soft_wrap=True)
