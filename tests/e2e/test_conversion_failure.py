"""A model one converter cannot handle: its rows fail with the converter's message, the other formats run."""
import json
import sys

import pytest

from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.engine.optimize import optimize
from tests.support.recipes import tiny_recipe_dict


@pytest.fixture
def hyphenated_format():
    """The toy plug-in format `onnx-ortopt`: a hyphen in a format's name must not split its identity."""
    yield "tests.plugins.toy_format"
    FORMATS.unregister("onnx-ortopt")
    sys.modules.pop("tests.plugins.toy_format", None)


@pytest.mark.slow  # a whole optimize run
def test_failed_conversion_marks_rows_and_the_rest_completes(tmp_path, hyphenated_format):
    raw = tiny_recipe_dict(plugins=[hyphenated_format], **{
        "export.formats": ["onnx", "tflite", "openvino", "onnx-ortopt"],
        "student.arch": "python:tests.support.custom_model:erfinv_net", "student.args": {"hidden": 8},
        "student.train": {"epochs": 1}, "teacher.train": {"epochs": 1}, "distill.baseline": False,
        "prune.enabled": False,
    })
    report = optimize(parse_recipe(raw), tmp_path / "run")
    rows = {r.stage: r for r in report.results}
    assert rows["onnx-fp32"].status == "failed" and "aten::erfinv" in rows["onnx-fp32"].error
    assert rows["onnx-int8"].status == "failed" and "export failed" in rows["onnx-int8"].error
    assert rows["tflite-fp32"].status == "failed" and "erfinv" in rows["tflite-fp32"].error
    assert rows["openvino-fp32"].ok and rows["openvino-int8"].ok
    for precision in ("fp32", "int8"):  # the plug-in's failed rows keep its whole name as their format
        failed = rows[f"onnx-ortopt-{precision}"]
        assert failed.status == "failed" and (failed.format, failed.precision) == ("onnx-ortopt", precision)
        assert failed.role == ("export" if precision == "fp32" else "quantized")
    assert rows["student-kd"].ok
    assert set(report.ship) == {"openvino"}
    # the failed stage leaves no folder behind; the manifest says why
    stages = [p.name for p in (tmp_path / "run" / "stages").iterdir()]
    assert not any(name.startswith(("onnx", "tflite", ".tmp")) for name in stages)
    manifest = {s["name"]: s for s in json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]}
    assert manifest["onnx-fp32"]["status"] == "failed"
    assert "Traceback" in (tmp_path / "run" / "failures" / "onnx-fp32.txt").read_text()  # for whoever debugs it
