"""One table, three views: the terminal (rich), report.md (markdown) and report.html. Every table edgeship shows
is built once as a TableView and rendered by these, so a rule about what a cell says lives in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape


@dataclass
class TableView:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    right: set[str] = field(default_factory=set)          # headers of right-aligned (numeric) columns
    row_classes: list[str] = field(default_factory=list)  # per row: "", "failed", "shipped" (html, rich styles)
    styles: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, header) -> rich style of one cell

    def add(self, cells: list, css: str = "") -> None:
        self.rows.append(["-" if c is None else str(c) for c in cells])
        self.row_classes.append(css)

    def markdown(self, heading: str | None = None) -> list[str]:
        lines = [heading, ""] if heading else []
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---:" if h in self.right else "---" for h in self.headers) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in self.rows]
        return lines + [""]

    def html(self) -> str:
        cls = ["" if h in self.right else "l" for h in self.headers]
        out = ["<table><tr>" + "".join(f'<th class="{c}">{escape(h)}</th>' for c, h in zip(cls, self.headers))
               + "</tr>"]
        for i, row in enumerate(self.rows):
            css = self.row_classes[i] if i < len(self.row_classes) else ""
            tr = f' class="{css}"' if css else ""
            out.append(f"<tr{tr}>" + "".join(f'<td class="{c}">{escape(v)}</td>' for c, v in zip(cls, row))
                       + "</tr>")
        return "".join(out) + "</table>"

    def rich(self):
        from rich.markup import escape as rich_escape
        from rich.table import Table

        table = Table(title=self.title)
        for header in self.headers:
            table.add_column(header, justify="right" if header in self.right else "left")
        for i, row in enumerate(self.rows):
            cells = []
            for header, value in zip(self.headers, row):
                style = self.styles.get((i, header))
                text = rich_escape(value)
                cells.append(f"[{style}]{text}[/{style}]" if style else text)
            table.add_row(*cells)
        return table
