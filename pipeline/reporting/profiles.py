"""Where the time goes: the agent's per-layer profile (the runtime's own profiler) per row, the top layers of
each shipped model, and the export doctor: layers of int8 files that still run in float, and format changes."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.results import Report, ResultRow
from edgeship.pipeline.core.infrastructure.tables import TableView

TOP_LAYERS = 15


def condensed(profile: dict | None) -> dict | None:
    """The profile as report.json keeps it: totals, the top layers by time, every op type with its layer counts
    per precision and its time, and the names of the layers that ran in float."""
    if not profile or "layers" not in profile:
        return profile
    by_type: dict[str, dict] = {}
    for layer in profile["layers"]:
        entry = by_type.setdefault(layer["type"], {"int8": 0, "float": 0, "bf16": 0, "convert": 0, "ms": None,
                                                   "kernels": []})
        entry[layer["precision"]] = entry.get(layer["precision"], 0) + 1
        if layer["ms"] is not None:
            entry["ms"] = (entry["ms"] or 0.0) + layer["ms"]
        if layer["kernel"] not in entry["kernels"]:
            entry["kernels"].append(layer["kernel"])
    return {**{k: v for k, v in profile.items() if k != "layers"}, "top_layers": profile["layers"][:TOP_LAYERS],
            "by_type": by_type,
            "float_layer_names": [x["name"] for x in profile["layers"] if x["precision"] in ("float", "bf16")]}


def _share(ms: float | None, total: float | None) -> str:
    return f"{ms / total:.0%}" if ms is not None and total else "-"


def profiled_rows(report: Report) -> list[ResultRow]:
    """Shipped rows on the deciding target (the first native one), that carry a profile."""
    native = next((r.target for r in report.results if r.ok and r.is_native), None)
    shipped = report.shipped_stages
    return [r for r in report.results if r.target == native and r.stage in shipped and r.profile]


def top_layers_view(row: ResultRow) -> TableView:
    p = row.profile
    share = p.get("int8_time_share")
    title = (f"Where the time goes: {row.format} {row.precision} on {row.target} ({p.get('source')}; "
             + (f"{share:.0%} of the time in int8 kernels)" if share is not None else "no per-layer time)"))
    view = TableView(title, ["layer", "type", "kernel", "precision", "ms", "share"], right={"ms", "share"})
    for layer in p.get("top_layers", []):
        view.add([layer["name"], layer["type"], layer["kernel"], layer["precision"],
                  "-" if layer["ms"] is None else f"{layer['ms']:.4f}", _share(layer["ms"], p.get("total_ms"))])
    return view


def doctor_view(report: Report) -> TableView | None:
    """Per int8 file on the deciding target: op types with layers left in float, or converting between int8 and
    float, with their time: what to look at when int8 is not faster."""
    native = next((r.target for r in report.results if r.ok and r.is_native), None)
    view = TableView("Export doctor: int8 files, op types not running in int8",
                     ["format", "op type", "int8", "float", "convert", "ms", "share", "kernels"],
                     right={"int8", "float", "convert", "ms", "share"})
    for row in report.results:
        if row.target != native or row.precision != "int8" or not (row.profile or {}).get("by_type"):
            continue
        total = row.profile.get("total_ms")
        for op, e in sorted(row.profile["by_type"].items(), key=lambda kv: -(kv[1]["ms"] or 0.0)):
            if e.get("float", 0) + e.get("bf16", 0) + e.get("convert", 0) == 0:
                continue
            view.add([row.format, op, str(e.get("int8", 0)), str(e.get("float", 0) + e.get("bf16", 0)),
                      str(e.get("convert", 0)), "-" if e["ms"] is None else f"{e['ms']:.4f}", _share(e["ms"], total),
                      ", ".join(e["kernels"])[:80]])
    return view if view.rows else None


def markdown_lines(report: Report) -> list[str]:
    lines = []
    for row in profiled_rows(report):
        if row.profile.get("note"):
            lines += [f"*{row.format} {row.precision}: {row.profile['note']}*", ""]
        view = top_layers_view(row)
        lines += view.markdown(f"## {view.title}")
    doctor = doctor_view(report)
    return lines + (doctor.markdown(f"## {doctor.title}") if doctor else [])
