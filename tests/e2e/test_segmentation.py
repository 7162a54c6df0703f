"""Segmentation end to end through the CLI: scenes -> UNet teacher -> CWD student -> three formats at fp32 and
int8 -> mIoU measured by the device agent -> report (mIoU column, mask figure) -> ship."""
from __future__ import annotations

import json

import pytest
import yaml

from edgeship.pipeline.cli.main import main

pytestmark = pytest.mark.slow

RECIPE = {
    "name": "seg",
    "task": "segmentation",
    "data": {"source": "scenes", "image_size": 24, "mean": [0.2], "std": [0.3],
             "scenes": {"count": 1200, "max_items": 3}},
    "teacher": {"arch": "unet", "args": {"width": 16, "depth": 2},
                "train": {"epochs": 12, "batch_size": 32, "lr": 0.005, "optimizer": "adam", "weight_decay": 0}},
    "student": {"arch": "unet", "args": {"width": 8, "depth": 2},
                "train": {"epochs": 10, "batch_size": 16, "lr": 0.005, "optimizer": "adam", "weight_decay": 0}},
    "distill": {"method": "cwd", "alpha": 0.5, "temperature": 2.0},
    # Pruning a UNet this small sends it back to "everything is background" for more epochs than a test has
    # (tests/integration/test_segmentation_data.py prunes one structurally; the example recipe ships a pruned one).
    "prune": {"enabled": False},
    "export": {"formats": ["onnx", "tflite", "openvino"], "parity_samples": 32, "teacher": False},
    "quantize": {"calibration": {"samples": 64}, "max_accuracy_drop": 3.0, "validation_samples": 100},
    "bench": {"warmup": 2, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 5.0, "eval_samples": 100},
    "ship": {"start_from": "best", "max_accuracy_drop": 5.0},
}


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seg")
    recipe = folder / "seg.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    code = main(["optimize", str(recipe), "--run-dir", str(folder / "run")])
    return code, folder / "run"


def test_every_row_carries_miou_from_the_device(seg_run):
    code, run = seg_run
    report = json.loads((run / "report.json").read_text())
    assert code == 0 and report["metric"] == "mIoU %" and report["metric_name"] == "mIoU"
    rows = [r for r in report["results"] if r["status"] == "ok"]
    assert {(r["format"], r["precision"]) for r in rows} >= {(f, p) for f in ("onnx", "tflite", "openvino")
                                                             for p in ("fp32", "int8")}
    for row in rows:
        seg = row["segmentation"]
        assert seg["miou"] == pytest.approx(row["accuracy"]) and len(seg["per_class_iou"]) == 11
        assert 0 <= seg["pixel_accuracy"] <= 100 and not row["per_image_metric"]
    teacher = next(r for r in rows if r["stage"] == "teacher")
    assert teacher["accuracy"] > 20.0, "the teacher learned next to nothing"


def test_exports_agree_per_pixel_and_int8_is_judged_in_miou(seg_run):
    _, run = seg_run
    report = json.loads((run / "report.json").read_text())
    for row in report["results"]:
        if row["format"] != "torch" and row["precision"] == "fp32":
            assert row["parity"]["agreement"] >= 99.0
        if row["precision"] == "int8":
            int8 = row["int8"]
            assert int8["drop"] == pytest.approx(int8["fp32_accuracy"] - int8["int8_accuracy"])


def test_report_names_the_metric_and_shows_masks(seg_run):
    _, run = seg_run
    markdown = (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    assert "mIoU %" in markdown and "points mIoU" in markdown and "±" not in markdown.split("## Per target")[0]
    assert "Validation examples" in html and "ground truth" in html
    report = json.loads((run / "report.json").read_text())
    shipped = [c for c in report["ship"].values() if c.get("stage")]
    assert shipped, report["ship"]
    assert (run / "ship").is_dir()
