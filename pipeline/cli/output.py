"""What every edgeship command prints with: exit codes, a stdout console, the results table."""
from __future__ import annotations

from rich.console import Console

from edgeship.pipeline.core.contracts.results import ResultRow
from edgeship.pipeline.reporting.views import TERMINAL, results_view

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
EXIT_BUDGET = 4  # optimize: no candidate met the budget (everything it built is kept)


def results_table(rows: list[ResultRow | dict], title: str, metric: str = "accuracy %"):
    """The terminal view of the results (rows as ResultRow, or as report.json holds them); `metric` heads the
    accuracy column (the task's metric)."""
    typed = [r if isinstance(r, ResultRow) else ResultRow.from_dict(r) for r in rows]
    return results_view(typed, title, TERMINAL, status_width=120, metric=metric).rich()


def stdout_console() -> Console:
    """Wide enough for the results table when stdout is a file or a CI log (rich would assume 80 columns)."""
    console = Console()
    return console if console.is_terminal else Console(width=180, soft_wrap=True)
