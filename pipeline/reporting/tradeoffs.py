"""What int8 and pruning really bought, per runtime and target, with warnings where they bought nothing."""
from __future__ import annotations


def _p50(row: dict) -> float | None:
    return row["latency_ms"]["p50"] if row.get("status") == "ok" and row.get("latency_ms") else None


def _native_p50(row: dict) -> float | None:
    """Latency that means something: none for an emulated target."""
    return None if row.get("emulated") else _p50(row)


def int8_vs_fp32(rows: list[dict]) -> list[dict]:
    """One entry per (format, target) with both an fp32 and an int8 row."""
    by_key = {(r["format"], r["precision"], r["target"]): r for r in rows}
    out = []
    for (fmt, precision, target), int8 in by_key.items():
        fp32 = by_key.get((fmt, "fp32", target))
        if precision != "int8" or fp32 is None or _p50(int8) is None or _p50(fp32) is None:
            continue
        budget = int8.get("int8") or {}
        native = _native_p50(int8) is not None
        entry = {"format": fmt, "target": target, "runtime": int8.get("runtime"), "emulated": not native,
                 "latency_ratio": _p50(int8) / _p50(fp32) if native else None,
                 "size_ratio": int8["size_bytes"] / fp32["size_bytes"] if fp32.get("size_bytes") else None,
                 "fp32_accuracy": fp32["accuracy"], "int8_accuracy": int8["accuracy"],
                 "drop_pt": (fp32["accuracy"] - int8["accuracy"]) if None not in (fp32["accuracy"],
                                                                               int8["accuracy"]) else None,
                 "float_layers": budget.get("float_layers", []), "within_budget": budget.get("within_budget"),
                 "cpu_features": int8.get("cpu_features")}
        entry["warning"] = (f"int8 is slower than fp32 on {target} ({entry['latency_ratio']:.2f}x p50)"
                            if native and entry["latency_ratio"] > 1.0 else None)
        out.append(entry)
    return out


def pruning_effect(rows: list[dict]) -> list[dict]:
    """Pruned vs unpruned student per target (torch rows): MACs, params, size and measured latency."""
    out = []
    for pruned in (r for r in rows if r["stage"] == "pruned"):
        before = next((r for r in rows if r["stage"] == "student-kd" and r["target"] == pruned["target"]), None)
        if before is None or _native_p50(before) is None or _native_p50(pruned) is None:
            continue
        entry = {"target": pruned["target"], "macs_ratio": pruned["macs"] / before["macs"],
                 "params_ratio": pruned["params"] / before["params"],
                 "size_ratio": pruned["size_bytes"] / before["size_bytes"],
                 "latency_ratio": _p50(pruned) / _p50(before),
                 "accuracy_change": pruned["accuracy"] - before["accuracy"]}
        entry["warning"] = ("pruning gave no measured speed-up in torch on " + pruned["target"] +
                            f" ({entry['latency_ratio']:.2f}x p50 for {entry['macs_ratio']:.2f}x MACs)"
                            if entry["latency_ratio"] > 0.95 else None)
        out.append(entry)
    return out


def markdown_sections(report: dict) -> list[str]:
    lines = []
    int8 = report.get("int8_vs_fp32") or []
    if int8:
        lines += ["## Int8 against fp32", "", "| format | target | runtime | int8/fp32 p50 | size ratio | "
                  "fp32 % | int8 % | drop | layers kept float |", "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for e in int8:
            flag = " ⚠" if e["warning"] else ""
            ratio = "emulated" if e["latency_ratio"] is None else f"{e['latency_ratio']:.2f}x{flag}"
            lines.append(f"| {e['format']} | {e['target']} | {e['runtime']} | {ratio} | "
                         f"{e['size_ratio']:.2f} | {e['fp32_accuracy']:.2f} | {e['int8_accuracy']:.2f} | "
                         f"{e['drop_pt']:+.2f} | {', '.join(e['float_layers']) or 'none'} |")
        lines += [""] + [f"- ⚠ {e['format']}: {e['warning']}" for e in int8 if e["warning"]] + [""]
    for e in report.get("pruning") or []:
        lines += ["## Pruning", "", f"On {e['target']}: MACs x{e['macs_ratio']:.2f}, params x{e['params_ratio']:.2f}, "
                  f"size x{e['size_ratio']:.2f}, torch p50 x{e['latency_ratio']:.2f}, accuracy "
                  f"{e['accuracy_change']:+.2f} points." + (f" ⚠ {e['warning']}." if e["warning"] else ""), ""]
    for row in report.get("results", []):
        sensitivity = (row.get("int8") or {}).get("sensitivity")
        if sensitivity and row["target"] == report["results"][0]["target"]:
            lines += [f"## Sensitivity: {row['format']} int8", "", "| layer | drop when quantized alone (points) |",
                      "|---|---:|"] + [f"| {s['layer']} | {s['drop_alone']:.2f} |" for s in sensitivity] + [""]
    return lines
