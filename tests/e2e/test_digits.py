"""The demo recipe end to end through the installed CLI, checked against the spine's 'done when'."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_digits_demo_meets_the_done_criteria(tmp_path):
    run_dir = tmp_path / "digits"
    cmd = [sys.executable, "-m", "edgeship.pipeline.cli", "optimize", str(ROOT / "examples" / "digits.yaml"),
           "--run-dir", str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "student (KD, pruned)" in proc.stdout  # the table
    report = json.loads((run_dir / "report.json").read_text())
    rows = {r["stage"]: r for r in report["results"]}
    for fmt in ("onnx", "tflite", "openvino"):
        fp32, int8 = rows[f"{fmt}-fp32"], rows[f"{fmt}-int8"]
        assert fp32["status"] == int8["status"] == "ok"
        assert abs(int8["accuracy"] - fp32["accuracy"]) <= 1.0, (fmt, fp32["accuracy"], int8["accuracy"])
        assert report["ship"][fmt]["stage"] in (f"{fmt}-fp32", f"{fmt}-int8")
    for row in rows.values():  # chance is 10%; every model of the demo is far above it
        assert row["accuracy"] > 90, (row["stage"], row["accuracy"])
    for fmt in ("onnx", "tflite", "openvino"):  # an export computes what the torch model computes
        assert abs(rows[f"{fmt}-fp32"]["accuracy"] - rows["pruned"]["accuracy"]) <= 0.3, fmt
    # KD vs scratch in the direction the README measured on this recipe (3 seeds: 97.21% scratch, 98.79% KD),
    # with a margin of two test images (one is 0.28 points) for one seed's noise; the verdict says the sign.
    gain = rows["student-kd"]["accuracy"] - rows["student-scratch"]["accuracy"]
    assert gain >= -0.56, (rows["student-kd"]["accuracy"], rows["student-scratch"]["accuracy"])
    expected = "beats" if gain > 0 else "does not beat"
    assert expected in report["kd_verdict"] and f"{gain:+.2f}" in report["kd_verdict"], report["kd_verdict"]

    # An unchanged recipe reuses every stage and every bench result (no file rewritten).
    bench_files = sorted((run_dir / "bench").rglob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in bench_files]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {s["status"] for s in manifest["stages"]} == {"reused"}
    assert [p.stat().st_mtime_ns for p in bench_files] == stamps  # paired timings are reused too
    assert len([p for p in bench_files if p.parent.name != "paired"]) == 13  # + teacher x3
