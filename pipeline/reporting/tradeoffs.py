"""What int8 and pruning really bought, per runtime and target, with warnings where they bought nothing."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.results import Report, ResultRow
from edgeship.pipeline.core.contracts.speed import FASTER, SLOWER, SpeedComparison
from edgeship.pipeline.core.contracts.stage_graph import PRUNED, STUDENT_KD, Role
from edgeship.pipeline.reporting.profiles import markdown_lines as profile_lines
from edgeship.pipeline.reporting.views import batch_notes, batch_view, int8_view, sensitivity_views


def _paired(speed: list[SpeedComparison], baseline: str, candidate: str, target: str) -> SpeedComparison | None:
    return next((c for c in speed if (c.baseline, c.candidate, c.target) == (baseline, candidate, target)), None)


def int8_vs_fp32(rows: list[ResultRow], speed: list[SpeedComparison] = ()) -> list[dict]:
    """One entry per (format, target) with both an fp32 and an int8 row; the speed verdict from paired timing,
    a warning only when int8 is measurably slower."""
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
        paired = _paired(speed, fp32.stage, int8.stage, target)
        entry["speed"] = paired.to_dict() if paired else None
        entry["warning"] = (f"int8 is measurably slower than fp32 on {target} (p50 {paired.interval()}, 95% "
                            f"interval, timed interleaved)" if paired and paired.verdict == SLOWER else None)
        out.append(entry)
    return out


def pruning_effect(rows: list[ResultRow], unpruned: str = STUDENT_KD.name, speed: list[SpeedComparison] = ()
                   ) -> list[dict]:
    """Pruned vs unpruned student per target (torch rows): MACs, params, size and measured latency; a warning
    when paired timing shows no speed-up beyond ship.equal_within."""
    out = []
    for pruned in (r for r in rows if r.role == Role.PRUNED):
        before = next((r for r in rows if r.stage == unpruned and r.target == pruned.target), None)
        if before is None or before.native_latency() is None or pruned.native_latency() is None:
            continue
        entry = {"target": pruned.target, "macs_ratio": pruned.macs / before.macs,
                 "params_ratio": pruned.params / before.params, "size_ratio": pruned.size_bytes / before.size_bytes,
                 "latency_ratio": pruned.latency() / before.latency(),
                 "accuracy_change": pruned.accuracy - before.accuracy}
        paired = _paired(speed, unpruned, PRUNED.name, pruned.target)
        entry["speed"] = paired.to_dict() if paired else None
        entry["warning"] = (f"pruning gave no measurable speed-up in torch on {pruned.target} (p50 "
                            f"{paired.interval()} for {entry['macs_ratio']:.2f}x MACs)"
                            if paired and paired.measured and paired.verdict != FASTER else None)
        out.append(entry)
    return out


def markdown_sections(report: Report) -> list[str]:
    lines = []
    if report.int8_vs_fp32:
        lines += int8_view(report.int8_vs_fp32).markdown("## Int8 against fp32")
        lines += [f"- ⚠ {e['format']}: {e['warning']}" for e in report.int8_vs_fp32 if e["warning"]] + [""]
    for e in report.pruning:
        lines += ["## Pruning", "", f"On {e['target']}: MACs x{e['macs_ratio']:.2f}, params x{e['params_ratio']:.2f}, "
                  f"size x{e['size_ratio']:.2f}, torch p50 {_speed_words(e.get('speed'), e['latency_ratio'])}, "
                  f"accuracy {e['accuracy_change']:+.2f} points."
                  + (f" ⚠ {e['warning']}." if e["warning"] else ""), ""]
    lines += speed_lines(report) + profile_lines(report)
    batches = batch_view(report.results)
    if batches:
        lines += batches.markdown(f"## {batches.title}") + [f"- {n}" for n in batch_notes(report.results)] + [""]
    for _, view in sensitivity_views(report):
        lines += view.markdown(f"## {view.title}")
    return lines


def _speed_words(speed: dict | None, single_ratio: float) -> str:
    """'x0.52 [0.50, 0.55] timed interleaved (95%): faster', or the single p50s' ratio and why."""
    comparison = SpeedComparison(**speed) if speed else None
    if comparison is None or not comparison.measured:
        why = comparison.note if comparison else "not timed interleaved"
        return f"x{single_ratio:.2f} (single p50s: {why})"
    return f"{comparison.interval()} timed interleaved (95%): {comparison.verdict}"


def speed_lines(report: Report) -> list[str]:
    """Every speed claim of the run with its paired 95% interval (or why it has none)."""
    if not report.speed:
        return []
    comparisons = [SpeedComparison(**c) for c in report.speed]
    return ["## Speed, timed interleaved", "",
            "Each pair timed interleaved in one agent; p50 ratio candidate/baseline with its 95% block-bootstrap "
            "interval. A difference is called only when the interval excludes equal within "
            f"{comparisons[0].equal_within:.0%}.", ""] + [
        f"- {c.sentence(c.candidate, c.baseline)}" for c in comparisons] + [""]
