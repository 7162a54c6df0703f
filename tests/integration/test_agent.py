import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeship.pipeline.models.zoo import build_model
from edgeship.targets.agent_zipapp import AGENT_NAME, agent_zipapp
from edgeship.targets.base import BenchRequest
from edgeship.targets.local import LocalTarget


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent")
    torch.manual_seed(0)
    model = build_model("simple_cnn", 3, 1, 8, {"width": 4}).eval()
    path = folder / "m.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), input_names=["input"], dynamo=False,
                      opset_version=17)
    x = np.random.default_rng(0).standard_normal((20, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        labels = model(torch.from_numpy(x)).argmax(1).numpy()
    np.savez(folder / "eval.npz", inputs=x, labels=labels)
    return path, folder / "eval.npz"


def isolated_python(code: str, cwd: str = "/") -> subprocess.CompletedProcess:
    """`python -S -I`: no site module (so no .pth file, and no editable install of edgeship), no PYTHONPATH,
    no script or current folder on the path; then site-packages alone is added, as a board's python has its
    packages. What the agent imports must come from there, never from this repository."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    return subprocess.run([sys.executable, "-S", "-I", "-c", f"import sys; sys.path.append({site!r}); {code}"],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_edgeship_cannot_be_imported_in_the_isolated_interpreter():
    for package in ("edgeship", "pipeline", "targets", "calibration"):
        proc = isolated_python(f"import {package}")
        assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr, (package, proc.stderr[-300:])


def test_agent_runs_standalone_and_prints_one_json_object(onnx_model):
    path, eval_npz = onnx_model
    agent = agent_zipapp()
    assert agent.name == AGENT_NAME and agent.stat().st_size < 100_000  # one small file travels to the board
    argv = [str(agent), "--model", str(path), "--eval", str(eval_npz), "--min-runs", "30", "--min-seconds", "0",
            "--warmup", "3"]
    proc = isolated_python(f"import runpy; sys.argv = {argv!r}; runpy.run_path({str(agent)!r}, run_name='__main__')")
    assert proc.returncode == 0, proc.stderr[-1000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and result["status"] == "ok"
    assert result["format"] == "onnx" and result["runtime"] == "onnxruntime"
    assert result["accuracy"] == 100.0 and result["eval_samples"] == 20
    assert result["runs"] == len(result["timings_ms"]) >= 30
    lat = result["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert result["input_shape"] == [1, 1, 8, 8]
    # start-up and memory: load + first inference, and the process's peak resident memory
    assert result["cold_start_ms"] >= result["load_seconds"] * 1000.0 > 0
    assert 10 < result["peak_rss_mb"] < 4096


def test_agent_does_not_import_edgeship():
    for module in (Path(__file__).resolve().parents[2] / "targets" / "agent").glob("*.py"):
        source = module.read_text()
        assert "from edgeship" not in source and "import edgeship" not in source, module.name


def test_broken_model_is_a_failed_row_not_a_crash(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    result = LocalTarget().bench(bad, "onnx", BenchRequest(eval_npz=None, min_runs=1, min_seconds=0))
    assert result["status"] == "failed" and "bad.onnx" in result["error"] or "INVALID" in result["error"].upper()


def test_hanging_target_times_out(onnx_model):
    path, eval_npz = onnx_model
    request = BenchRequest(eval_npz=eval_npz, min_runs=10**9, min_seconds=600, max_seconds=600, timeout=3)
    result = LocalTarget().bench(path, "onnx", request)
    assert result == {"status": "failed", "error": "target local: timed out after 3 s", "target": "local",
                      "emulated": False}


def test_missing_interpreter_is_a_failed_row(onnx_model):
    path, _ = onnx_model
    result = LocalTarget(python="/nonexistent/python3").bench(path, "onnx", BenchRequest(eval_npz=None))
    assert result["status"] == "failed" and "cannot start" in result["error"]


def test_a_model_that_cannot_be_pushed_fails_its_row_and_the_next_runs(onnx_model, tmp_path):
    path, _ = onnx_model
    request = BenchRequest(eval_npz=None, warmup=1, min_runs=3, min_seconds=0.0)
    gone, ok = LocalTarget().bench_many([(tmp_path / "gone.onnx", "onnx"), (path, "onnx")], request)
    assert gone["status"] == "failed" and "cannot push gone.onnx" in gone["error"]
    assert ok["status"] == "ok", ok.get("error")


def test_profile_lists_layers_with_time_and_precision(onnx_model):
    path, _ = onnx_model
    request = BenchRequest(eval_npz=None, warmup=1, min_runs=5, min_seconds=0.0, profile=5)
    result = LocalTarget().bench_many([(path, "onnx")], request)[0]
    assert result["status"] == "ok", result.get("error")
    p = result["profile"]
    assert p["runs"] == 5 and p["total_ms"] > 0 and "onnxruntime" in p["source"]
    assert p["int8_time_share"] == 0.0 and p["int8_layers"] == 0 and p["float_layers"] == len(p["layers"]) > 0
    assert any("Conv" in x["type"] for x in p["layers"])
    assert [x["ms"] for x in p["layers"]] == sorted((x["ms"] for x in p["layers"]), reverse=True)


def test_a_format_without_a_profiler_is_a_note_not_a_failure(onnx_model):
    from edgeship.targets.agent import profile

    sample = np.zeros((1, 1, 8, 8), np.float32)
    assert profile("torch", "m.pt2", 1, sample, 2, "/tmp") == {"note": "no profiler for torch"}
    broken = profile("onnx", str(onnx_model[0]) + ".missing", 1, sample, 2, "/tmp")
    assert broken["note"].startswith("profiling failed:")


def test_batch_sizes_and_throughput_beside_batch_one(onnx_model, tmp_path):
    from edgeship.pipeline.core.contracts.formats import format_named

    torch.manual_seed(0)
    model = build_model("simple_cnn", 3, 1, 8, {"width": 4}).eval()
    example = torch.zeros(1, 1, 8, 8)
    files = {fmt: tmp_path / format_named(fmt).export(model, example, tmp_path, 17) for fmt in ("onnx", "openvino")}
    request = BenchRequest(eval_npz=None, warmup=1, min_runs=5, min_seconds=0.2, batch_sizes=(4,), throughput=True)
    results = LocalTarget().bench_many([(files["onnx"], "onnx"), (files["openvino"], "openvino"),
                                        (onnx_model[0], "onnx")], request)
    for result in results:
        assert result["status"] == "ok" and result["runs"] >= 5, result.get("error")  # batch 1 latency stays
    dynamic, openvino, static = (r["batches"]["4"] for r in results)
    for entry in (dynamic, openvino):  # edgeship's ONNX export has a dynamic batch; OpenVINO reshapes
        assert entry["p50_ms"] > 0 and entry["images_per_s"] == pytest.approx(4000.0 / entry["p50_ms"])
    assert "batch 4" in static["error"]  # a static batch dimension is a note, not a failed row
    assert results[1]["throughput"]["images_per_s"] > 0 and results[1]["throughput"]["requests"] >= 1
    assert "OpenVINO only" in results[0]["throughput"]["note"]
