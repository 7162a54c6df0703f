"""The latency-budget search in the report: its accuracy-latency front (every candidate it measured, the
uniform-pruning reference beside them, the budget line, the shipped point) and a table of its steps.

The search's candidates and the uniform reference are scored alike (validation accuracy after re-estimating
BatchNorm, no fine-tune), so they compare with each other; the steps' accuracy is after each step's short KD
fine-tune, and the last step's after the winner's full one.
"""
from __future__ import annotations

from html import escape

from edgeship.pipeline.core.infrastructure.tables import TableView


def _interval(step: dict, metric: str) -> str:
    return f"{step[f'{metric}_ms']:.3f} [{step['low_ms']:.3f}, {step['high_ms']:.3f}]"


def steps_view(budget: dict) -> TableView:
    metric = budget["metric"]
    headers = ["step", "move", "MACs (M)", "val %", f"{metric} ms [95%]", "size KB", "s"]
    view = TableView("Budget search: steps", headers, right=set(headers[2:]) - {"move"})
    last = len(budget["steps"]) - 1
    for i, s in enumerate(budget["steps"]):
        view.add([s["step"], s["move"], f"{s['macs'] / 1e6:.2f}", f"{s['val_accuracy']:.2f}", _interval(s, metric),
                  f"{s['size_kb']:.0f}", f"{s['seconds']:.0f}"], "shipped" if i == last and budget["final"]["meets"]
                 else "")
    return view


def summary(budget: dict) -> str:
    """One sentence: the budget, whether the searched student meets it, at what accuracy, after how long."""
    limits = [f"{budget['metric']} <= {budget['latency_ms']} ms" if budget.get("latency_ms") else None,
              f"size <= {budget['size_kb']} KB" if budget.get("size_kb") else None,
              f"peak RSS <= {budget['peak_rss_mb']} MB" if budget.get("peak_rss_mb") else None]
    said = " and ".join(x for x in limits if x)
    where = f"on {budget['target']} at {budget['threads']} thread(s), {budget['format']} {budget['precision']}"
    last = budget["steps"][-1]
    measured = budget["final"]["measured"]
    figure = (f"{measured['latency_ms']:.3f} ms [{measured['low_ms']:.3f}, {measured['high_ms']:.3f}]"
              if isinstance(measured, dict) else f"not measured ({measured})")
    verdict = "meets it" if budget["final"]["meets"] else "does not meet it"
    return (f"Budget {said} {where}: the searched student {verdict}: {figure} {budget['metric']}, "
            f"{last['val_accuracy']:.2f}% validation, {len(budget['steps']) - 1} step(s) in {budget['seconds']:.0f} s"
            + (f"; stopped: {budget['stopped']['why']}" if budget.get("stopped") else "")
            + _retrained(budget.get("from_scratch")) + ".")


def _retrained(from_scratch: dict | str | None) -> str:
    """The winner's architecture trained afresh (budget.retrain), against its fine-tuned weights."""
    if not isinstance(from_scratch, dict):
        return ""
    return (f"; its architecture trained from scratch reached {from_scratch['val_accuracy']:.2f}% against "
            f"{from_scratch['fine_tuned_val_accuracy']:.2f}% fine-tuned ({from_scratch['kept']} kept)")


def markdown_lines(budget: dict | None) -> list[str]:
    if not budget:
        return []
    return ["## Budget search", "", summary(budget), ""] + steps_view(budget).markdown()


def _points(entries: list[dict]) -> list[tuple[float, float]]:
    return [(e["latency_ms"], e["val_accuracy"]) for e in entries if "latency_ms" in e]


def front_svg(budget: dict) -> str:
    """Candidates (grey), the picked ones joined step by step (blue), uniform pruning (orange), the budget (red
    dashed) and the shipped, fully fine-tuned student (red star)."""
    import matplotlib.pyplot as plt

    from edgeship.pipeline.reporting.svg import svg_text

    metric = budget["metric"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    tried = [t for s in budget["steps"] for t in s.get("tried", [])] + (budget.get("stopped") or {}).get("tried", [])
    xs = _points(tried)
    ax.scatter([x for x, _ in xs], [y for _, y in xs], s=22, color="#aaa", label="candidates (adaptive BN)", zorder=2)
    picked = [(budget["steps"][0][f"{metric}_ms"], budget["steps"][0]["val_accuracy"])] + \
        _points([t for t in tried if t.get("picked")])
    ax.plot([x for x, _ in picked], [y for _, y in picked], "o-", color="#1f77b4", ms=5, lw=1,
            label="steps taken (adaptive BN)", zorder=3)
    uniform = sorted(_points(budget.get("uniform") or []))
    if uniform:
        ax.plot([x for x, _ in uniform], [y for _, y in uniform], "^--", color="#ff7f0e", ms=6, lw=1,
                label="uniform pruning (adaptive BN)", zorder=3)
    if budget.get("latency_ms"):
        ax.axvline(budget["latency_ms"], color="#d62728", ls="--", lw=1, label=f"budget {budget['latency_ms']} ms")
    final = budget["steps"][-1]
    if len(budget["steps"]) > 1:
        ax.scatter([final[f"{metric}_ms"]], [final["val_accuracy"]], s=220, marker="*", color="#d62728",
                   label="searched, fine-tuned", zorder=4)
    ax.set_xlabel(f"{metric} latency, ms ({budget['format']} {budget['precision']}, {budget['target']}, "
                  f"{budget['threads']} thread(s))")
    ax.set_ylabel("validation %")
    ax.set_title("budget search: accuracy against latency of everything it measured", fontsize=9)
    ax.grid(True, alpha=.3)
    ax.legend(fontsize=7, loc="lower right")
    return svg_text(fig)


def html_section(budget: dict | None) -> str:
    if not budget:
        return ""

    return (f"<h2>Budget search</h2><p>{escape(summary(budget))}</p><figure>{front_svg(budget)}</figure>"
            f"{steps_view(budget).html()}")
