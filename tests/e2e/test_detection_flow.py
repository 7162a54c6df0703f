"""Detection through every stage: the objects source, fcos_tiny teacher and student, prune, ONNX / TFLite /
OpenVINO in fp32 and int8, and mAP on the device agent's path (decoded in numpy there, scored by pycocotools)."""
import json
import shutil

import pytest

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.engine.optimize import optimize

pytestmark = pytest.mark.slow  # a whole optimize run (about a minute on 2 cores)

RECIPE = {
    "name": "objects", "task": "detection", "seed": 0,
    "data": {"source": "objects", "image_size": 64, "channels": 1, "mean": [0.2], "std": [0.3],
             "scenes": {"count": 240}},
    "teacher": {"arch": "fcos_tiny", "args": {"width": 8}, "train": {"epochs": 2, "lr": 0.002, "optimizer": "adam"}},
    "student": {"arch": "fcos_tiny", "args": {"width": 4}, "train": {"epochs": 1, "lr": 0.002, "optimizer": "adam"}},
    # the task's distill defaults: cwd on the class logits and the FPN levels both detectors name, no logit KD
    "distill": {"baseline": False, "unfit_teacher": "distill"},
    "prune": {"ratio": 0.25, "finetune": {"epochs": 1}},
    "export": {"formats": ["onnx", "tflite", "openvino"]},
    "quantize": {"calibration": {"samples": 32}},
    "bench": {"warmup": 1, "min_runs": 3, "min_seconds": 0.0, "max_seconds": 2.0},
}


def test_a_detector_runs_through_every_stage_with_map_from_the_device_path(tmp_path, capsys):
    report = optimize(parse_recipe(RECIPE), tmp_path / "run")
    rows = {(r.stage, r.format, r.precision): r for r in report.results}
    failed = [(key, r.error) for key, r in rows.items() if r.status != "ok"]
    assert not failed
    formats = {(fmt, precision) for _, fmt, precision in rows}
    assert {("onnx", "int8"), ("tflite", "int8"), ("openvino", "int8"), ("torch", "fp32")} <= formats
    assert all(r.accuracy is not None and 0.0 <= r.accuracy <= 100.0 for r in rows.values())
    # int8 keeps the detector's prediction convolutions float by default (each runtime's names for them)
    for fmt in ("onnx", "tflite", "openvino"):
        heads = rows[(f"{fmt}-int8", fmt, "int8")].int8["float_outputs"]
        assert heads and all(any(h in layer for h in ("cls_logits", "box_distances", "centerness"))
                             for layer in heads), (fmt, heads)
    # the teacher's exports decode to the same detections as torch: the same mAP, every runtime
    teacher = [r.accuracy for (stage, _, _), r in rows.items() if stage.startswith("teacher")]
    assert max(teacher) - min(teacher) < 0.5 and len(teacher) == 4
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "mAP50-95" in markdown and "| post ms | FPS | int8 drop |" in markdown  # as `yolo benchmark` prints
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Validation examples" in html and "ground truth" in html  # the boxes figure
    # the CI gate judges the drop in mAP points: a baseline 1.5 points better fails the run at the default 0.5
    better = json.loads((tmp_path / "run" / "report.json").read_text())
    for row in better["results"]:
        row["accuracy"] = row["accuracy"] + 1.5 if row.get("accuracy") is not None else None
    base = tmp_path / "base"
    base.mkdir()
    (base / "report.json").write_text(json.dumps(better))
    shutil.copy(tmp_path / "run" / "report.timings.json", base)  # the raw timings travel beside the results
    capsys.readouterr()
    code = main(["check", str(tmp_path / "run"), "--baseline", str(base / "report.json"), "--remeasure", "0",
                 "--json"])
    verdicts = json.loads(capsys.readouterr().out)["rows"]
    assert code == 1 and verdicts and all("dropped 1.50 points mAP" in v["reason"] for v in verdicts), verdicts
