"""report.json (machine-readable), report.md (a table a person reads), both views of one typed Report."""
from __future__ import annotations

from pathlib import Path

from edgeship.pipeline.core.contracts.agent_result import AgentResult
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import model_files
from edgeship.pipeline.core.contracts.results import LATENCY_KEYS, Report, ResultRow
from edgeship.pipeline.core.contracts.stage_graph import STUDENT_KD, STUDENT_SCRATCH, Role, StageId
from edgeship.pipeline.core.infrastructure.atomic import write_atomic
from edgeship.pipeline.reporting.budget_view import markdown_lines as budget_lines
from edgeship.pipeline.reporting.distillation import distillation_sentence, method_display, what_next
from edgeship.pipeline.reporting.profiles import condensed
from edgeship.pipeline.reporting.tradeoffs import markdown_sections
from edgeship.pipeline.reporting.views import environment_view, markdown_columns, per_target_view, results_view

X86_NOTE = ("Int8 speed-ups measured on x86 with VNNI/AMX do not carry over to ARM boards such as a Raspberry Pi, "
            "which have no such instructions: measure on the device.")
EMULATED_NOTE = ("Emulated targets (qemu-user) give the ARM kernels' accuracy; their latency is the emulator's, "
                 "about 100x a board's, so it is never shown beside native latency.")


def model_name(sid: StageId, method: str, ship_from: str = STUDENT_KD.name, final: str | None = None) -> str:
    """What the report calls the model a stage holds; a conversion of the student line is the `final` model's
    name (the student it was converted from)."""
    shown = method_display(method)
    if sid.is_teacher:
        return "teacher"
    if sid.role is Role.STUDENT:
        return "student (scratch)" if sid == STUDENT_SCRATCH else f"student ({shown})"
    if sid.role is Role.PRUNED:
        return f"student ({'scratch' if ship_from == STUDENT_SCRATCH.name else shown}, pruned)"
    return final or sid.name


def make_row(artifact: Artifact | None, sid: StageId, model: str, target: str, result: AgentResult | None,
             error: str | None = None, per_image_metric: bool = True) -> ResultRow:
    result = result or AgentResult.failed(error or "not benched")
    metrics = artifact.metrics if artifact else {}
    platform = result.platform or {}
    latency = result.latency_ms
    return ResultRow(
        model=model, stage=sid.name, format=sid.format, precision=sid.precision, role=sid.role.value,
        of_teacher=sid.of_teacher, target=target,
        status="failed" if error else result.status, error=error or result.error,
        runtime=result.runtime, threads=result.threads,
        size_bytes=sum(p.stat().st_size for p in model_files(artifact.path, artifact.format)) if artifact else None,
        params=metrics.get("params"), macs=metrics.get("macs"), accuracy=result.accuracy,
        latency_ms={k: latency[k] for k in LATENCY_KEYS} if latency else None,
        runs=result.runs, timings_ms=result.timings_ms,
        artifact_key=artifact.key if artifact else None, parity=metrics.get("parity"),
        runtime_settings=result.settings, emulated=bool(result.emulated),
        emulated_cpu=result.emulated_cpu, machine=platform.get("machine"),
        container_platform=result.container_platform, cpu_features=platform.get("cpu_features"),
        cpu_model=platform.get("cpu_model"), int8=metrics.get("int8"), eval_samples=result.eval_samples,
        per_image_metric=per_image_metric,
        segmentation=result.segmentation, cold_start_ms=result.cold_start_ms,
        preprocess_ms=result.p50(result.preprocess_ms), postprocess_ms=result.p50(result.postprocess_ms),
        peak_rss_mb=result.peak_rss_mb, profile=condensed(result.profile),
        batches=result.batches, throughput=result.throughput)


def add_speedups(rows: list[ResultRow]) -> None:
    """Speed-up over the teacher in the same runtime (its export to the row's format) and over torch eager."""
    teacher = {(r.format, r.target): r.native_latency() for r in rows if r.is_teacher and r.native_latency()}
    for row in rows:
        mine = row.native_latency()
        same, eager = teacher.get((row.format, row.target)), teacher.get(("torch", row.target))
        row.speedup_vs_teacher = same / mine if same and mine else None
        row.speedup_vs_torch_teacher = eager / mine if eager and mine else None


def kd_verdict(rows: list[ResultRow], metric_name: str = "top-1", distill: dict | None = None) -> str | None:
    """Whether distillation paid on the test split; where it did not, what adaptive KD did and what to try next
    (`distill`: the report's distillation record)."""
    acc = {r.stage: r.accuracy for r in rows if r.format == "torch" and r.accuracy is not None}
    if STUDENT_KD.name not in acc or STUDENT_SCRATCH.name not in acc:
        return None
    gain = acc[STUDENT_KD.name] - acc[STUDENT_SCRATCH.name]
    if gain > 0:
        return f"The distilled student beats the scratch student by {gain:+.2f} points {metric_name}."
    said = f"The distilled student does not beat the scratch student: {gain:+.2f} points {metric_name}."
    return said if distill is None else f"{said} {what_next(distill)}"


def markdown(report: Report) -> str:
    lines = [f"# edgeship report: {report.recipe}", ""]
    lines += [f"> **{notice}**" for notice in report.notices] + ([""] if report.notices else [])
    lines += results_view(report.results, "Results", markdown_columns(report.results), metric=report.metric).markdown()
    per_target = per_target_view(report.results)
    lines += per_target.markdown("## Per target") if per_target else []
    if report.kd_verdict:
        lines += [report.kd_verdict, ""]
    if report.distillation:
        lines += [distillation_sentence(report.distillation), ""]
    if report.ship:
        lines += ["## Shipped", ""] + [f"- **{fmt}**: {c.reason}" for fmt, c in report.ship.items()] + [""]
    lines += budget_lines(report.budget)
    lines += markdown_sections(report)
    lines += environment_view(report.results).markdown("## Targets") + [EMULATED_NOTE, ""]
    lines += ["## Notes", "", f"- {X86_NOTE}",
              "- OpenVINO rows run with INFERENCE_PRECISION_HINT=f32 (this x86 would otherwise run bf16).",
              "- Latency: batch 1, fixed thread count, per-iteration timings kept in bench/<target>/.",
              f"- {report.metric}: on the test split (or bench.eval_samples of it)"
              + (", ± the half-width of its 95% Wilson interval: differences inside it are not evidence."
                 if any(r.per_image_metric for r in report.results) else
                 ", from one confusion matrix over every pixel of the split (255 = ignore), computed on the device."),
              ""]
    return "\n".join(lines)


def write_report(run_root: Path, report: Report) -> None:
    """report.md and report.html, then report.json last: if the disk fills up on the way, report.json (what
    `check` and `report` read) is still the previous run's, whole."""
    from edgeship.pipeline.reporting.html import render  # matplotlib: only when a report is written

    for name, text in (("report.md", markdown(report)), ("report.html", render(report))):
        write_atomic(run_root / name, lambda tmp, text=text: tmp.write_text(text))
    report.write_json(run_root / "report.json")


def read_report(run_root: Path) -> Report:
    return Report.read_json(run_root / "report.json")
