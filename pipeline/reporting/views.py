"""The report's tables, built once from typed rows; report.md, report.html and the terminal render them.

Each column is a header and one function from a row to its cell; a view picks the columns it shows.
"""
from __future__ import annotations

from typing import Callable

from edgeship.pipeline.core.contracts.results import Report, ResultRow
from edgeship.pipeline.core.contracts.speed import SpeedComparison
from edgeship.pipeline.core.infrastructure.tables import TableView


def _fmt(value, spec: str, empty: str = "-") -> str:
    return empty if value is None else format(value, spec)


def _emulated_or(row: ResultRow, value, spec: str) -> str:
    return "emulated" if row.emulated and value is not None else _fmt(value, spec)


def _status(row: ResultRow) -> str:
    return row.status if row.ok else f"{row.status}: {row.error or ''}".strip()


COLUMNS: dict[str, tuple[Callable[[ResultRow], str], bool]] = {  # header -> (cell, right-aligned)
    "model": (lambda r: r.model, False),
    "format": (lambda r: r.format, False),
    "precision": (lambda r: r.precision, True),
    "target": (lambda r: r.target, False),
    "runtime": (lambda r: r.runtime or "-", False),
    "size KB": (lambda r: _fmt(r.size_bytes and r.size_bytes / 1024, ".1f"), True),
    "MACs": (lambda r: _fmt(r.macs, ","), True),
    "params": (lambda r: _fmt(r.params, ","), True),
    "accuracy %": (lambda r: r.display_accuracy(), True),
    "p50 ms": (lambda r: r.display_latency("p50"), True),
    "p90 ms": (lambda r: r.display_latency("p90"), True),
    "vs teacher": (lambda r: _fmt(r.speedup_vs_teacher, ".1f") + ("x" if r.speedup_vs_teacher else ""), True),
    "vs torch teacher": (lambda r: _fmt(r.speedup_vs_torch_teacher, ".1f")
                         + ("x" if r.speedup_vs_torch_teacher else ""), True),
    # under an emulator both are the emulator's, as its latency is
    "pre ms": (lambda r: _emulated_or(r, r.preprocess_ms, ".3f"), True),
    "post ms": (lambda r: _emulated_or(r, r.postprocess_ms, ".3f"), True),
    # as `yolo benchmark` prints: images a second from the inference p50, the int8 file's loss against its fp32
    # file (the accuracy budget's figure, on the validation split)
    "FPS": (lambda r: _fmt(r.native_latency() and 1000.0 / r.native_latency(), ".0f"), True),
    "int8 drop": (lambda r: _fmt((r.int8 or {}).get("drop"), "+.2f"), True),
    "cold start ms": (lambda r: _emulated_or(r, r.cold_start_ms, ".1f"), True),
    "peak RSS MB": (lambda r: _emulated_or(r, r.peak_rss_mb, ".0f"), True),
    "status": (_status, False),
}
TERMINAL = ["model", "format", "precision", "target", "size KB", "accuracy %", "p50 ms", "p90 ms", "vs teacher",
            "status"]
MARKDOWN = ["model", "format", "precision", "target", "runtime", "size KB", "MACs", "params", "accuracy %",
            "p50 ms", "p90 ms", "vs teacher", "vs torch teacher", "cold start ms", "peak RSS MB", "status"]
HTML = ["model", "format", "precision", "target", "runtime", "size KB", "MACs", "accuracy %", "p50 ms", "shipped",
        "status"]


def markdown_columns(rows: list[ResultRow]) -> list[str]:
    """MARKDOWN, with the device's pre- and post-processing beside inference, FPS and the int8 drop where the
    task post-processes (detection, as `yolo benchmark` reports it)."""
    if not any(r.postprocess_ms is not None for r in rows):
        return MARKDOWN
    at = MARKDOWN.index("p90 ms") + 1
    return MARKDOWN[:at] + ["pre ms", "post ms", "FPS", "int8 drop"] + MARKDOWN[at:]


def results_view(rows: list[ResultRow], title: str, columns: list[str], shipped: set[str] = frozenset(),
                 status_width: int | None = None, metric: str = "accuracy %") -> TableView:
    """`metric`: the header of the accuracy column (the task's metric, e.g. "mIoU %")."""
    headers = [metric if c == "accuracy %" else c for c in columns]
    view = TableView(title, headers, right={h for c, h in zip(columns, headers) if c in COLUMNS and COLUMNS[c][1]})
    for r in rows:
        cells = [("yes" if r.stage in shipped else "") if c == "shipped" else COLUMNS[c][0](r) for c in columns]
        if status_width and "status" in columns:
            cells[columns.index("status")] = cells[columns.index("status")][:status_width]
        view.add(cells, "failed" if not r.ok else "shipped" if r.stage in shipped else "")
        if not r.ok and "status" in columns:
            view.styles[(len(view.rows) - 1, "status")] = "red"
    return view


def per_target_view(rows: list[ResultRow]) -> TableView | None:
    """One column group (accuracy, p50) per target: ARM int8 accuracy next to x86's."""
    targets = list(dict.fromkeys(r.target for r in rows))
    if len(targets) < 2:
        return None
    cells = {(r.stage, r.target): r for r in rows}
    headers = ["model", "format", "precision"] + [h for t in targets for h in (f"{t} acc %", f"{t} p50 ms")]
    view = TableView("Per target", headers, right=set(headers[3:]))
    for stage in dict.fromkeys(r.stage for r in rows):
        first = next(r for r in rows if r.stage == stage)
        groups = []
        for t in targets:
            r = cells.get((stage, t))
            if r is None:
                groups += ["not measured", "-"]  # a format the target was not asked to run
            elif r.ok:
                groups += [_fmt(r.accuracy, ".2f"), r.display_latency("p50")]
            else:
                groups += ["failed", "-"]
        view.add([first.model, first.format, first.precision, *groups])
    return view


def environment_view(rows: list[ResultRow]) -> TableView:
    view = TableView("Targets", ["target", "machine", "CPU", "CPU features", "emulated", "container"])
    for target in dict.fromkeys(r.target for r in rows):
        r = next((r for r in rows if r.target == target and r.ok), None)
        if r is None:
            view.add([target, "unreachable", "-", "-", "-", "-"])
            continue
        view.add([target, r.machine or "-", r.cpu_model or "-", " ".join(r.cpu_features or []) or "-",
                  f"yes ({r.emulated_cpu})" if r.emulated else "no", r.container_platform or "-"])
    return view


def sensitivity_views(report: Report) -> list[tuple[ResultRow, TableView]]:
    """Per int8 row of the first target whose budget searched for float layers: its layers, most harmful first,
    then what the search tried."""
    first = report.results[0].target if report.results else None
    out = []
    for r in report.results:
        outcome = r.int8 or {}
        ranked = outcome.get("sensitivity")
        if not ranked or r.target != first:
            continue
        by_error = "sqnr_db" in ranked[0]
        harm = "SQNR at the output when quantized alone (dB)" if by_error else "drop when quantized alone (points)"
        tried = {t["layer"]: t for t in outcome.get("tried", [])}
        unmapped = sum(s.get("sqnr_db") is None for s in ranked) if by_error else 0
        search = (f"{len(tried)} tried in {outcome.get('search_seconds', 0):.0f} s"
                  + ("; stopped at quantize.max_search_seconds: the best file so far" if outcome.get("timed_out")
                     else "")
                  # a layer name the runtime made up (no module scope) has no error to rank it by
                  + (f"; {unmapped} of {len(ranked)} layers name no torch module: unranked, tried last"
                     if unmapped else ""))
        view = TableView(f"Sensitivity: {r.format} int8 ({search})", ["layer", harm, "drop with it and those above "
                         "kept float"], right={harm, "drop with it and those above kept float"})
        for s in ranked[:20]:
            value = s.get("sqnr_db") if by_error else s.get("drop_alone")
            t = tried.get(s["layer"])
            view.add([s["layer"], "-" if value is None else f"{value:.2f}", f"{t['drop']:.2f}" if t else "-"])
        out.append((r, view))
    return out


def int8_view(entries: list[dict]) -> TableView:
    headers = ["format", "target", "runtime", "int8/fp32 p50", "95% interval", "speed", "size ratio", "fp32 %",
               "int8 %", "drop", "layers kept float"]
    view = TableView("Int8 against fp32", headers, right=set(headers[3:5]) | set(headers[6:10]))
    for e in entries:
        flag = " ⚠" if e["warning"] else ""
        speed = SpeedComparison(**e["speed"]) if e.get("speed") else None
        if e["latency_ratio"] is None:
            ratio = "emulated"
        elif speed is not None and speed.measured:  # the paired figure, the one its interval belongs to
            ratio = f"{speed.ratio:.2f}x{flag}"
        else:
            ratio = f"{e['latency_ratio']:.2f}x (single p50s){flag}"
        paired = "-" if speed is None or not speed.measured else f"[{speed.low:.2f}, {speed.high:.2f}]"
        verdict = "-" if speed is None else speed.verdict if speed.measured else f"not measured: {speed.note}"
        view.add([e["format"], e["target"], e["runtime"], ratio, paired, verdict, _fmt(e["size_ratio"], ".2f"),
                  _fmt(e["fp32_accuracy"], ".2f"), _fmt(e["int8_accuracy"], ".2f"), _fmt(e["drop_pt"], "+.2f"),
                  ", ".join(e["float_layers"]) or "none"])
    return view


def batch_view(rows: list[ResultRow]) -> TableView | None:
    """Per native row timed at more batch sizes or in throughput mode: p50 per batch and images per second."""
    timed = [r for r in rows if r.ok and r.is_native and (r.batches or r.throughput)]
    if not timed:
        return None
    sizes = list(dict.fromkeys(size for r in timed for size in (r.batches or {})))
    headers = ["model", "format", "precision", "target", "b1 img/s"] + [f"b{s} p50 ms" for s in sizes] + \
        [f"b{s} img/s" for s in sizes] + ["throughput img/s"]
    view = TableView("Batch and throughput", headers, right=set(headers[4:]))
    for r in timed:
        entries = [(r.batches or {}).get(s, {}) for s in sizes]
        p50 = [_fmt(e.get("p50_ms"), ".3f") if "error" not in e else "cannot" for e in entries]
        rate = [_fmt(e.get("images_per_s"), ".0f") if "error" not in e else "-" for e in entries]
        parallel = r.throughput or {}
        view.add([r.model, r.format, r.precision, r.target, _fmt(1000.0 / r.latency() if r.latency() else None, ".0f"),
                  *p50, *rate, _fmt(parallel.get("images_per_s"), ".0f") if "images_per_s" in parallel else "-"])
    return view


def batch_notes(rows: list[ResultRow]) -> list[str]:
    """Why a batch size or the throughput mode has no figure (a static batch dimension, a runtime without it)."""
    notes = [e["error"] for r in rows if r.ok and r.is_native for e in (r.batches or {}).values() if "error" in e]
    notes += [(r.throughput or {}).get("note") for r in rows if (r.throughput or {}).get("note")]
    return list(dict.fromkeys(notes))
