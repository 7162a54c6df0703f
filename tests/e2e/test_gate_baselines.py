"""Baseline files that carry their models: `edgeship check` times baseline and candidate interleaved from
them, and a baseline that no longer fits is said so in one line or one inconclusive row, never a verdict."""
from __future__ import annotations

import json
import shutil

import pytest

from edgeship.pipeline.cli.main import main


@pytest.fixture
def baseline_file(tiny_run, tmp_path, capsys):
    out = tmp_path / "edge" / "edgeship-baseline.json"
    assert main(["baseline", "update", str(tiny_run[0]), "--out", str(out)]) == 0
    assert "models" in capsys.readouterr().out
    return out


def check(current, baseline, capsys, *extra) -> tuple[int, dict]:
    code = main(["check", str(current), "--baseline", str(baseline), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_baseline_file_carries_its_models_and_check_times_them_interleaved(tiny_run, baseline_file, capsys):
    saved = json.loads(baseline_file.read_text())
    assert saved["recipe"] == "tiny" and saved["task"] == "classification"
    ok = [r for r in saved["results"] if r["status"] == "ok"]
    assert ok and all((baseline_file.parent / r["model_file"]).is_file() and len(r["model_sha256"]) == 64
                      for r in ok)
    assert (baseline_file.parent / "edgeship-baseline.models").is_dir()
    # The run checked against its own baseline file: every native row is timed interleaved, none fails. Two
    # formats, one of them a model with a side file (OpenVINO's .bin), keep the look short.
    code, result = check(tiny_run[0], baseline_file, capsys, "--formats", "onnx,openvino")
    assert {r["format"] for r in result["rows"]} == {"onnx", "openvino"}
    native = [r for r in result["rows"] if r["latency"]["reason"] != "emulated: latency not judged"]
    assert native and all(r["latency"]["interleaved"] for r in native)
    onnx = [r for r in native if r["format"] == "onnx"]
    assert all(r["verdict"] == "pass" for r in onnx), [r["reason"] for r in onnx]
    assert code in (0, 3) and not any(r["verdict"] == "fail" for r in result["rows"])


def test_a_changed_or_missing_baseline_model_is_an_inconclusive_row_naming_it(tiny_run, baseline_file, capsys):
    saved = json.loads(baseline_file.read_text())
    changed = next(r for r in saved["results"] if r["format"] == "onnx" and r["precision"] == "fp32")
    with open(baseline_file.parent / changed["model_file"], "ab") as handle:
        handle.write(b"\0")
    code, result = check(tiny_run[0], baseline_file, capsys, "--formats", "onnx")
    row = next(r for r in result["rows"] if (r["format"], r["precision"]) == ("onnx", "fp32"))
    assert row["verdict"] == "inconclusive" and "changed since 'edgeship baseline update'" in row["reason"]
    assert code == 3
    shutil.rmtree(baseline_file.parent / "edgeship-baseline.models")
    code, result = check(tiny_run[0], baseline_file, capsys)
    assert code == 3 and all(r["verdict"] == "inconclusive" and "is missing" in r["reason"]
                             for r in result["rows"] if r["latency"]["reason"] != "emulated: latency not judged")


def test_a_baseline_without_models_is_judged_across_runs_and_says_why(tiny_run, capsys):
    code, result = check(tiny_run[0], tiny_run[0] / "report.json", capsys, "--remeasure", "2")
    rows = [r for r in result["rows"] if r["format"] == "onnx"]
    assert rows and all(not r["latency"]["interleaved"] and "holds no baseline models" in r["latency"]["reason"]
                        for r in rows)
    assert code == 3  # 5 stored timings per row: too few to judge


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(recipe="other"), "made by recipe 'other', CURRENT by recipe 'tiny': not comparable"),
    (lambda d: d.update(task="segmentation"), "made by task 'segmentation'"),
    (lambda d: [r.update(target="pi5") for r in d["results"]], "no row matches CURRENT (baseline targets pi5"),
])
def test_a_baseline_of_another_recipe_task_or_target_exits_2_in_one_line(tiny_run, baseline_file, change,
                                                                         message, capsys):
    data = json.loads(baseline_file.read_text())
    change(data)
    baseline_file.write_text(json.dumps(data))
    assert main(["check", str(tiny_run[0]), "--baseline", str(baseline_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_formats_that_no_row_has_exit_2_naming_the_format(tiny_run, baseline_file, capsys):
    assert main(["check", str(tiny_run[0]), "--baseline", str(baseline_file), "--formats", "onnx,coreml"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--formats coreml" in err and "onnx" in err, err
