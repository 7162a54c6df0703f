"""Typed results and their views, on made-up rows: no training, no runtime."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.results import Report, ResultRow, ShipChoice
from edgeship.pipeline.core.contracts.stage_graph import stage_ids
from edgeship.pipeline.reporting.report import add_speedups, kd_verdict, markdown
from edgeship.pipeline.reporting.ship import choose
from edgeship.pipeline.reporting.views import HTML, TERMINAL, environment_view, results_view

STAGES = {sid.name: sid for sid in stage_ids(["onnx", "tflite", "openvino"])}  # the identities of made-up rows


def row(stage, fmt="torch", precision="fp32", target="local", p50=1.0, accuracy=90.0, **more) -> ResultRow:
    sid = STAGES.get(stage)
    identity = {"role": sid.role.value, "of_teacher": sid.of_teacher} if sid else {}
    return ResultRow(model=stage, stage=stage, format=fmt, precision=precision, target=target, status="ok",
                     accuracy=accuracy, latency_ms={"p50": p50, "p90": p50 * 1.2}, size_bytes=2048,
                     **{**identity, **more})


def test_old_report_rows_load_and_write_back_unchanged():
    old = {"model": "teacher", "stage": "teacher", "format": "torch", "precision": "fp32", "target": "local",
           "status": "ok", "latency_ms": {"p50": 2.0}, "accuracy": 97.5, "a_key_of_another_version": [1, 2]}
    loaded = ResultRow.from_dict(old)
    assert loaded.latency() == 2.0 and loaded.extra == {"a_key_of_another_version": [1, 2]}
    assert {k: v for k, v in loaded.to_dict().items() if k in old} == old
    report = Report.from_dict({"recipe": "r", "results": [old], "ship": {}, "something_new": 1})
    assert report.to_dict()["something_new"] == 1 and report.results[0].stage == "teacher"


def test_emulated_latency_is_never_shown_or_compared():
    emu = row("onnx-fp32", "onnx", target="pi", p50=90.0, emulated=True)
    assert emu.display_latency() == "emulated" and emu.native_latency() is None and emu.latency() == 90.0
    assert row("x", p50=1.23456).display_latency("p90") == "1.481"
    failed = ResultRow(model="m", stage="s", format="onnx", precision="fp32", target="t", error="boom")
    assert failed.display_latency() == "-" and failed.latency() is None


def test_speedups_and_kd_verdict_from_rows():
    rows = [row("teacher", p50=4.0), row("student-scratch", accuracy=80.0), row("student-kd", p50=0.5, accuracy=82.5),
            row("teacher", target="pi", p50=9.0, emulated=True)]
    add_speedups(rows)
    assert rows[2].speedup_vs_teacher == 8.0 and rows[3].speedup_vs_teacher is None
    assert kd_verdict(rows) == "The distilled student beats the scratch student by +2.50 points top-1."


def test_ship_takes_the_fastest_within_the_drop_on_the_first_native_target():
    rows = [row("pruned", accuracy=90.0), row("onnx-fp32", "onnx", p50=0.8, accuracy=90.0),
            row("onnx-int8", "onnx", "int8", p50=0.3, accuracy=88.5),
            row("onnx-int8", "onnx", "int8", target="pi", p50=0.1, accuracy=90.0, emulated=True)]
    assert choose(rows, "pruned", ["onnx"], 2.0)["onnx"].stage == "onnx-int8"
    assert choose(rows, "pruned", ["onnx"], 1.0)["onnx"].stage == "onnx-fp32"
    rows[1].accuracy = 50.0
    assert choose(rows, "pruned", ["onnx"], 1.0)["onnx"].stage is None


def test_ship_on_a_board_without_torch_measures_the_drop_from_the_students_fp32_file():
    rows = [row("onnx-fp32", "onnx", target="pi", p50=0.8, accuracy=90.0),
            row("onnx-int8", "onnx", "int8", target="pi", p50=0.3, accuracy=88.5)]
    assert choose(rows, "pruned", ["onnx"], 2.0)["onnx"].stage == "onnx-int8"
    assert choose(rows, "pruned", ["onnx"], 1.0)["onnx"].stage == "onnx-fp32"


def test_one_table_renders_as_terminal_markdown_and_html():
    rows = [row("teacher", p50=4.0), ResultRow(model="s", stage="onnx-int8", format="onnx", precision="int8",
                                                target="local", error="converter said no | twice")]
    view = results_view(rows, "t", HTML, shipped={"teacher"})
    assert view.rows[0][HTML.index("shipped")] == "yes" and view.row_classes == ["shipped", "failed"]
    assert view.rows[0][:2] == ["teacher", "torch"] and view.rows[1][HTML.index("shipped")] == ""
    html = view.html()
    assert "<tr class=\"failed\">" in html and "converter said no | twice" in html
    md = results_view(rows, "t", TERMINAL).markdown()
    assert md[0].startswith("| model | format |") and "converter said no \\| twice" in md[3]
    assert results_view(rows, "t", TERMINAL).rich().row_count == 2


def test_markdown_report_has_every_section_once():
    rows = [row("teacher"), row("pi-row", target="pi", emulated=True, machine="aarch64", emulated_cpu="cortex-a72")]
    text = markdown(Report(recipe="r", results=rows, ship={"onnx": ShipChoice(None, "nothing")}))
    assert text.count("## Targets") == 1 and text.count("## Per target") == 1 and "yes (cortex-a72)" in text
    assert "emulated" in text.split("## Per target")[1]
    assert environment_view(rows).rows[1][:2] == ["pi", "aarch64"]
