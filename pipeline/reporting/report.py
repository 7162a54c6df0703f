"""report.json (machine-readable), report.md (a table a person reads)."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.artifact import Artifact
from pipeline.core.atomic import write_atomic, write_json_atomic
from pipeline.core.formats import model_files
from pipeline.core.plugins import METHODS
from pipeline.reporting.tradeoffs import markdown_sections

X86_NOTE = ("Int8 speed-ups measured on x86 with VNNI/AMX do not carry over to ARM boards such as a Raspberry Pi, "
            "which have no such instructions: measure on the device.")


def method_display(method: str) -> str:
    """A method's own name for people; a report of a method no longer registered shows its recipe name."""
    return dict(METHODS.items())[method].display if method in METHODS.names() else method


def model_names(method: str) -> dict[str, str]:
    shown = method_display(method)
    return {"teacher": "teacher", "student-scratch": "student (scratch)", "student-kd": f"student ({shown})",
            "pruned": f"student ({shown}, pruned)"}


def make_row(artifact: Artifact | None, stage: str, fmt: str, precision: str, model: str, target: str,
             result: dict | None, error: str | None = None) -> dict:
    result = result or {}
    metrics = artifact.metrics if artifact else {}
    status = "failed" if error else result.get("status", "failed")
    latency = result.get("latency_ms") or {}
    return {
        "model": model, "stage": stage, "format": fmt, "precision": precision, "target": target,
        "runtime": result.get("runtime"), "threads": result.get("threads"),
        "size_bytes": sum(p.stat().st_size for p in model_files(artifact.path, artifact.format)) if artifact else None,
        "params": metrics.get("params"), "macs": metrics.get("macs"),
        "accuracy": result.get("accuracy"),
        "latency_ms": {k: latency[k] for k in ("p50", "p90", "p99", "mean", "std")} if latency else None,
        "runs": result.get("runs"), "timings_ms": result.get("timings_ms"),
        "status": status, "error": error or result.get("error"), "artifact_key": artifact.key if artifact else None,
        "parity": metrics.get("parity"), "runtime_settings": result.get("settings"),
        "emulated": bool(result.get("emulated")), "emulated_cpu": result.get("emulated_cpu"),
        "machine": (result.get("platform") or {}).get("machine"),
        "container_platform": result.get("container_platform"),
        "cpu_features": (result.get("platform") or {}).get("cpu_features"),
        "int8": metrics.get("int8"),
    }


def add_speedups(rows: list[dict]) -> None:
    teacher = {r["target"]: r["latency_ms"]["p50"] for r in rows
               if r["stage"] == "teacher" and r["status"] == "ok" and r["latency_ms"]}
    for row in rows:
        base = teacher.get(row["target"])
        ok = row["status"] == "ok" and row["latency_ms"] and base and not row.get("emulated")
        row["speedup_vs_teacher"] = base / row["latency_ms"]["p50"] if ok else None


def kd_verdict(rows: list[dict]) -> str | None:
    acc = {r["stage"]: r["accuracy"] for r in rows if r["format"] == "torch" and r["accuracy"] is not None}
    if "student-kd" not in acc or "student-scratch" not in acc:
        return None
    gain = acc["student-kd"] - acc["student-scratch"]
    if gain > 0:
        return f"The distilled student beats the scratch student by {gain:+.2f} points top-1."
    return f"The distilled student does not beat the scratch student: {gain:+.2f} points top-1."


def _fmt(value, spec: str, empty: str = "-") -> str:
    return empty if value is None else format(value, spec)


def shown_latency(row: dict, key: str) -> str:
    """A latency figure for people: emulated targets have none worth reading beside a device's."""
    if row.get("emulated") and row["status"] == "ok":
        return "emulated"
    return _fmt((row["latency_ms"] or {}).get(key), ".3f")


def target_columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["target"] for r in rows))


def per_target_table(rows: list[dict]) -> list[str]:
    """One column group (accuracy, p50) per target: ARM int8 accuracy next to x86's."""
    targets = target_columns(rows)
    if len(targets) < 2:
        return []
    cells = {(r["stage"], r["target"]): r for r in rows}
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    head = "| model | format | precision | " + " | ".join(f"{t} acc % | {t} p50 ms" for t in targets) + " |"
    lines = ["## Per target", "", head, "|---|---|---|" + "---:|---:|" * len(targets)]
    for stage in stages:
        first = next(r for r in rows if r["stage"] == stage)
        groups = []
        for t in targets:
            r = cells.get((stage, t))
            if r is None:
                groups.append("not measured | -")  # a format the target was not asked to run
            elif r["status"] == "ok":
                groups.append(f"{_fmt(r['accuracy'], '.2f')} | {shown_latency(r, 'p50')}")
            else:
                groups.append("failed | -")
        lines.append(f"| {first['model']} | {first['format']} | {first['precision']} | " + " | ".join(groups) + " |")
    return lines + [""]


def environment_lines(rows: list[dict]) -> list[str]:
    lines = ["## Targets", "", "| target | machine | CPU features | emulated | container |", "|---|---|---|---|---|"]
    for t in target_columns(rows):
        r = next((r for r in rows if r["target"] == t and r["status"] == "ok"), None)
        if r is None:
            lines.append(f"| {t} | unreachable | - | - | - |")
            continue
        emulated = f"yes ({r['emulated_cpu']})" if r.get("emulated") else "no"
        lines.append(f"| {t} | {r.get('machine') or '-'} | {' '.join(r.get('cpu_features') or []) or '-'} | "
                     f"{emulated} | {r.get('container_platform') or '-'} |")
    return lines + ["", "Emulated targets (qemu-user) give the ARM kernels' accuracy; their latency is the "
                        "emulator's, about 100x a board's, so it is never shown beside native latency.", ""]


def markdown(report: dict) -> str:
    lines = [f"# edgeship report: {report['recipe']}", "",
             "| model | format | precision | target | runtime | size KB | MACs | params | accuracy % | "
             "p50 ms | p90 ms | speed-up vs teacher | status |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error']}"
        lines.append(
            f"| {r['model']} | {r['format']} | {r['precision']} | {r['target']} | {r['runtime'] or '-'} | "
            f"{_fmt(r['size_bytes'] and r['size_bytes'] / 1024, '.1f')} | {_fmt(r['macs'], ',')} | "
            f"{_fmt(r['params'], ',')} | {_fmt(r['accuracy'], '.2f')} | {shown_latency(r, 'p50')} | "
            f"{shown_latency(r, 'p90')} | {_fmt(r['speedup_vs_teacher'], '.1f', '-')}x | {status} |")
    lines.append("")
    lines += per_target_table(report["results"])
    if report.get("kd_verdict"):
        lines += [report["kd_verdict"], ""]
    if report.get("distillation"):
        d = report["distillation"]
        lines += [f"Distillation: {method_display(d['method'])}, offline (frozen teacher); "
                  f"teacher outputs {d['teacher_outputs']} (cached = computed once, reused every epoch).", ""]
    if report.get("ship"):
        lines += ["## Shipped", ""]
        for fmt, choice in report["ship"].items():
            lines.append(f"- **{fmt}**: {choice['reason']}")
        lines.append("")
    lines += markdown_sections(report)
    lines += environment_lines(report["results"])
    lines += ["## Notes", "", f"- {X86_NOTE}",
              "- OpenVINO rows run with INFERENCE_PRECISION_HINT=f32 (this x86 would otherwise run bf16).",
              "- Latency: batch 1, fixed thread count, per-iteration timings kept in bench/<target>/.", ""]
    return "\n".join(lines)


def write_report(run_root: Path, report: dict) -> None:
    """report.md and report.html, then report.json last: if the disk fills up on the way, report.json (what
    `check` and `report` read) is still the previous run's, whole."""
    from pipeline.reporting.html import render  # matplotlib: only when a report is written

    for name, text in (("report.md", markdown(report)), ("report.html", render(report))):
        write_atomic(run_root / name, lambda tmp, text=text: tmp.write_text(text))
    write_json_atomic(run_root / "report.json", report)


def read_report(run_root: Path) -> dict:
    return json.loads((run_root / "report.json").read_text())
