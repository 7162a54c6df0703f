"""report.html: one self-contained page (inline CSS, plots as inline SVG, no script, nothing fetched).

Per native target an accuracy-vs-latency plot with the Pareto front and the shipped artifacts marked; a stage
waterfall from teacher to shipped student; the results table; the int8 sensitivity tables; each target's
environment and what was emulated.
"""
from __future__ import annotations

from html import escape

import matplotlib

matplotlib.use("Agg")  # no display: render to SVG only
import matplotlib.pyplot as plt  # noqa: E402

from edgeship.pipeline.core.contracts.results import Report, ResultRow  # noqa: E402
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, STUDENT_KD, TEACHER  # noqa: E402
from edgeship.pipeline.reporting.budget_view import html_section as budget_section  # noqa: E402
from edgeship.pipeline.reporting.distillation import distillation_sentence  # noqa: E402
from edgeship.pipeline.reporting.labels import place_labels  # noqa: E402
from edgeship.pipeline.reporting.profiles import doctor_view, profiled_rows, top_layers_view  # noqa: E402
from edgeship.pipeline.reporting.svg import svg_text  # noqa: E402
from edgeship.pipeline.reporting.tradeoffs import speed_lines  # noqa: E402
from edgeship.pipeline.reporting.views import HTML, environment_view, results_view, sensitivity_views  # noqa: E402

FORMAT_COLOURS = {"torch": "#7f7f7f", "onnx": "#1f77b4", "tflite": "#ff7f0e", "openvino": "#2ca02c"}
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
tr.failed td { color: #b00; } .note { color: #555; } figure { margin: 0 0 1rem; } figcaption { color: #555; }
.shipped { font-weight: 600; }
"""


def _ok(rows: list[ResultRow]) -> list[ResultRow]:
    return [r for r in rows if r.latency() is not None and r.accuracy is not None]


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both latency (lower) and accuracy (higher), by latency."""
    front, best = [], float("-inf")
    for latency, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((latency, accuracy))
            best = accuracy
    return front


def pareto_svg(rows: list[ResultRow], target: str, shipped: set[str], metric: str = "top-1 %") -> str:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    points, labels = [], []
    for r in rows:
        x, y = r.latency(), r.accuracy
        points.append((x, y))
        marker = "s" if r.precision == "int8" else "o"
        ax.scatter(x, y, s=46, marker=marker, color=FORMAT_COLOURS.get(r.format, "#333"), zorder=3)
        if r.stage in shipped:
            ax.scatter(x, y, s=260, marker="*", facecolors="none", edgecolors="#d62728", linewidths=1.4, zorder=4)
        name = r.model if r.format == "torch" else f"{'teacher ' if r.is_teacher else ''}{r.format} {r.precision}"
        labels.append((x, y, name))
    front = pareto_front(points)
    ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="#999", lw=1, ls="--", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency, ms (log)")
    ax.set_ylabel(metric)
    ax.set_title(f"{target}: accuracy vs latency (circle fp32, square int8, red star shipped, dashed Pareto front)",
                 fontsize=9)
    place_labels(ax, labels)
    ax.grid(True, alpha=.3)
    return svg_text(fig)


def waterfall_rows(report: Report, target: str) -> list[ResultRow]:
    """Teacher, distilled student, pruned student, then the shipped artifacts, on one target."""
    rows = {r.stage: r for r in _ok(report.results) if r.target == target}
    order = [TEACHER.name, STUDENT_KD.name, PRUNED.name] + sorted(s for s in report.shipped_stages if s in rows)
    return [rows[s] for s in order if s in rows]


def waterfall_svg(rows: list[ResultRow], metric: str = "top-1 %") -> str:
    metrics = [("size KB", lambda r: (r.size_bytes or 0) / 1024), ("MACs (M)", lambda r: (r.macs or 0) / 1e6),
               (metric, lambda r: r.accuracy), ("p50 ms", lambda r: r.latency())]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
    labels = [r.stage for r in rows]
    for ax, (name, value) in zip(axes, metrics):
        values = [value(r) for r in rows]
        ax.bar(range(len(rows)), values, color=[FORMAT_COLOURS.get(r.format, "#333") for r in rows])
        ax.set_xticks(range(len(rows)), labels, rotation=40, ha="right", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.grid(True, axis="y", alpha=.3)
        if name == metric and values:  # differences of a point or two must stay visible
            ax.set_ylim(max(0.0, min(values) - 2.0), min(100.0, max(values) + 1.0))
    fig.suptitle("from teacher to shipped student", fontsize=10)
    return svg_text(fig)


def _sensitivity(report: Report) -> str:
    parts = []
    for row, view in sensitivity_views(report):
        kept = ", ".join((row.int8 or {}).get("float_layers") or []) or "none"
        parts.append(f"<h3>{escape(row.format)} int8</h3><p>Layers kept float: {escape(kept)}</p>{view.html()}")
    return "".join(parts) or '<p class="note">No sensitivity analysis ran: every int8 model met its budget.</p>'


PRECISION_COLOURS = {"int8": "#2ca02c", "float": "#d62728", "bf16": "#ff7f0e", "convert": "#9467bd"}


def layers_svg(row: ResultRow) -> str:
    """The top layers by time, coloured by the precision they ran in."""
    layers = [x for x in row.profile.get("top_layers", []) if x["ms"] is not None][::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.25 * len(layers) + 1.0))
    ax.barh(range(len(layers)), [x["ms"] for x in layers],
            color=[PRECISION_COLOURS.get(x["precision"], "#333") for x in layers])
    ax.set_yticks(range(len(layers)), [f"{x['type']} {x['name'][-40:]}" for x in layers], fontsize=6)
    ax.set_xlabel("ms per inference")
    ax.set_title(f"{row.format} {row.precision}: top layers (green int8, red float, purple int8<->float)",
                 fontsize=9)
    return svg_text(fig)


def _profiles(report: Report) -> str:
    parts = []
    for row in profiled_rows(report):
        view = top_layers_view(row)
        timed = any(x["ms"] is not None for x in row.profile.get("top_layers", []))
        note = f'<p class="note">{escape(row.profile["note"])}</p>' if row.profile.get("note") else ""
        parts.append(f"<h3>{escape(view.title)}</h3>{note}"
                     + (f"<figure>{layers_svg(row)}</figure>" if timed else "") + view.html())
    doctor = doctor_view(report)
    if doctor:
        parts.append(f"<h3>{escape(doctor.title)}</h3>{doctor.html()}")
    return "<h2>Where the time goes</h2>" + "".join(parts) if parts else ""


def _speed(report: Report) -> str:
    claims = speed_lines(report)
    items = "".join(f"<li>{escape(line[2:])}</li>" for line in claims if line.startswith("- "))
    return f"<h2>Speed, timed interleaved</h2><p>{escape(claims[2])}</p><ul>{items}</ul>" if claims else ""


def render(report: Report) -> str:
    shipped = report.shipped_stages
    targets = report.targets
    native = [t for t in targets if not any(r.emulated for r in report.results if r.target == t)]
    plots = []
    for target in native:
        rows = [r for r in _ok(report.results) if r.target == target]
        if rows:
            plots.append(f"<figure>{pareto_svg(rows, target, shipped, report.metric)}</figure>")
    emulated = [t for t in targets if t not in native]
    note = (f'<p class="note">Emulated targets ({escape(", ".join(emulated))}) give ARM accuracy only: their '
            "latency is the emulator's and is not plotted.</p>") if emulated else ""
    steps = waterfall_rows(report, native[0]) if native else []
    waterfall = f"<figure>{waterfall_svg(steps, report.metric)}</figure>" if len(steps) > 1 else ""
    ship = "".join(f"<li><b>{escape(fmt)}</b>: {escape(c.reason)}</li>" for fmt, c in report.ship.items())
    results = results_view(report.results, "Results", HTML, shipped, metric=report.metric).html()
    distilled = (f'<p class="note">{escape(distillation_sentence(report.distillation))}</p>'
                 if report.distillation else "")
    examples = (f"<h2>Validation examples</h2><figure>{report.figures['examples']}</figure>"
                if report.figures.get("examples") else "")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>edgeship: '
            f"{escape(report.recipe)}</title><style>{CSS}</style></head><body>"
            f"<h1>edgeship report: {escape(report.recipe)}</h1>"
            f"{''.join(f'<p class=notice><b>{escape(n)}</b></p>' for n in report.notices)}"
            f"<h2>Accuracy against latency</h2>{''.join(plots)}{note}"
            f"<h2>Stages</h2>{waterfall}{distilled}{examples}"
            f"<h2>Shipped</h2><ul>{ship}</ul>{budget_section(report.budget)}"
            f"<h2>Results</h2>{results}{_speed(report)}"
            f"{_profiles(report)}"
            f"<h2>Int8 sensitivity</h2>{_sensitivity(report)}"
            f"<h2>Targets</h2>{environment_view(report.results).html()}"
            '<p class="note">Int8 speed-ups measured on x86 with VNNI/AMX do not carry over to ARM boards.</p>'
            "</body></html>\n")
