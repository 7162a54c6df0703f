"""What int8 and pruning really bought, per runtime and target, with warnings where they bought nothing."""
from __future__ import annotations

from pipeline.core.results import Report, ResultRow
from pipeline.reporting.views import int8_view, sensitivity_views


def int8_vs_fp32(rows: list[ResultRow]) -> list[dict]:
    """One entry per (format, target) with both an fp32 and an int8 row."""
    by_key = {(r.format, r.precision, r.target): r for r in rows if not r.is_teacher}
    out = []
    for (fmt, precision, target), int8 in by_key.items():
        fp32 = by_key.get((fmt, "fp32", target))
        if precision != "int8" or fp32 is None or int8.latency() is None or fp32.latency() is None:
            continue
        budget = int8.int8 or {}
        native = int8.native_latency() is not None
        entry = {"format": fmt, "target": target, "runtime": int8.runtime, "emulated": not native,
                 "latency_ratio": int8.latency() / fp32.latency() if native else None,
                 "size_ratio": int8.size_bytes / fp32.size_bytes if fp32.size_bytes else None,
                 "fp32_accuracy": fp32.accuracy, "int8_accuracy": int8.accuracy,
                 "drop_pt": (fp32.accuracy - int8.accuracy) if None not in (fp32.accuracy, int8.accuracy) else None,
                 "float_layers": budget.get("float_layers", []), "within_budget": budget.get("within_budget"),
                 "cpu_features": int8.cpu_features}
        entry["warning"] = (f"int8 is slower than fp32 on {target} ({entry['latency_ratio']:.2f}x p50)"
                            if native and entry["latency_ratio"] > 1.0 else None)
        out.append(entry)
    return out


def pruning_effect(rows: list[ResultRow], unpruned: str = "student-kd") -> list[dict]:
    """Pruned vs unpruned student per target (torch rows): MACs, params, size and measured latency."""
    out = []
    for pruned in (r for r in rows if r.stage == "pruned"):
        before = next((r for r in rows if r.stage == unpruned and r.target == pruned.target), None)
        if before is None or before.native_latency() is None or pruned.native_latency() is None:
            continue
        entry = {"target": pruned.target, "macs_ratio": pruned.macs / before.macs,
                 "params_ratio": pruned.params / before.params, "size_ratio": pruned.size_bytes / before.size_bytes,
                 "latency_ratio": pruned.latency() / before.latency(),
                 "accuracy_change": pruned.accuracy - before.accuracy}
        entry["warning"] = ("pruning gave no measured speed-up in torch on " + pruned.target +
                            f" ({entry['latency_ratio']:.2f}x p50 for {entry['macs_ratio']:.2f}x MACs)"
                            if entry["latency_ratio"] > 0.95 else None)
        out.append(entry)
    return out


def markdown_sections(report: Report) -> list[str]:
    lines = []
    if report.int8_vs_fp32:
        lines += int8_view(report.int8_vs_fp32).markdown("## Int8 against fp32")
        lines += [f"- ⚠ {e['format']}: {e['warning']}" for e in report.int8_vs_fp32 if e["warning"]] + [""]
    for e in report.pruning:
        lines += ["## Pruning", "", f"On {e['target']}: MACs x{e['macs_ratio']:.2f}, params x{e['params_ratio']:.2f}, "
                  f"size x{e['size_ratio']:.2f}, torch p50 x{e['latency_ratio']:.2f}, accuracy "
                  f"{e['accuracy_change']:+.2f} points." + (f" ⚠ {e['warning']}." if e["warning"] else ""), ""]
    for _, view in sensitivity_views(report):
        lines += view.markdown(f"## {view.title}")
    return lines
