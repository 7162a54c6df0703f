"""Raw timings in a side file: report.json stays small, and reading it gives every row its timings back."""
from __future__ import annotations

import json

import pytest

from edgeship.pipeline.core.contracts.results import Report
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from tests.unit.test_results import row


def test_report_json_names_its_timings_file_and_reads_them_back(tmp_path):
    rows = [row("teacher", timings_ms=[1.0] * 5000), row("onnx-fp32", "onnx", timings_ms=[0.5, 0.6])]
    Report(recipe="r", results=rows).write_json(tmp_path / "report.json")
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["timings_file"] == "report.timings.json"
    assert all(r["timings_ms"] is None for r in written["results"])
    assert (tmp_path / "report.json").stat().st_size < 20_000
    back = Report.read_json(tmp_path / "report.json")
    assert [r.timings_ms for r in back.results] == [[1.0] * 5000, [0.5, 0.6]]
    back.write_json(tmp_path / "again.json")  # written anew: names its own side file
    assert json.loads((tmp_path / "again.json").read_text())["timings_file"] == "again.timings.json"


def test_a_missing_or_foreign_timings_file_is_one_clear_error(tmp_path):
    Report(recipe="r", results=[row("teacher", timings_ms=[1.0])]).write_json(tmp_path / "report.json")
    Report(recipe="r", results=[row("pruned", timings_ms=[1.0])]).write_json(tmp_path / "other.json")
    (tmp_path / "other.timings.json").replace(tmp_path / "report.timings.json")
    with pytest.raises(EdgeshipError, match="do not match report.json"):
        Report.read_json(tmp_path / "report.json")
    (tmp_path / "report.timings.json").unlink()
    with pytest.raises(EdgeshipError, match="timings file .* is missing"):
        Report.read_json(tmp_path / "report.json")


def test_a_report_without_a_timings_file_still_reads(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"recipe": "r", "results": [row("teacher").to_dict()]}))
    assert Report.read_json(tmp_path / "old.json").results[0].stage == "teacher"
