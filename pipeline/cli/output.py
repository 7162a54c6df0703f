"""What every edgeship command prints with: exit codes, a stdout console, the results table."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3


def results_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col in ("model", "format", "precision", "target", "size KB", "accuracy %", "p50 ms", "p90 ms",
                "vs teacher", "status"):
        table.add_column(col, justify="right" if col[0] in "sapv" and col != "status" else "left")
    for r in rows:
        lat = r.get("latency_ms") or {}
        p50, p90 = (f"{lat['p50']:.3f}", f"{lat['p90']:.3f}") if lat else ("-", "-")
        if r.get("emulated") and lat:
            p50 = p90 = "emulated"  # an emulator's latency never sits beside a device's
        size = f"{r['size_bytes'] / 1024:.1f}" if r.get("size_bytes") else "-"
        acc = f"{r['accuracy']:.2f}" if r.get("accuracy") is not None else "-"
        speed = f"{r['speedup_vs_teacher']:.1f}x" if r.get("speedup_vs_teacher") else "-"
        status = r["status"] if r["status"] == "ok" else f"[red]{r['status']}[/red] {r.get('error') or ''}"[:120]
        table.add_row(r["model"], r["format"], r["precision"], r["target"], size, acc,
                      p50, p90, speed, status)
    return table


def stdout_console() -> Console:
    """Wide enough for the results table when stdout is a file or a CI log (rich would assume 80 columns)."""
    console = Console()
    return console if console.is_terminal else Console(width=180)
