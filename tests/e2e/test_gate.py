"""The latency gate's statistics, and `edgeship check` / `edgeship baseline update` on real timings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.gate.statistics import GateSettings, across_runs, latency_verdict
from edgeship.targets.base import BenchRequest
from edgeship.targets.local import LocalTarget

GATE = GateSettings(max_latency_regression=0.05, confidence=0.99)


def noisy(n: int, scale: float, seed: int, spread: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(scale * rng.lognormal(0.0, spread, n))


def test_same_distribution_passes_and_a_clear_slowdown_fails():
    assert latency_verdict(noisy(400, 1.0, 1), noisy(400, 1.0, 2), GATE)["verdict"] == "pass"
    slow = latency_verdict(noisy(400, 1.0, 1), noisy(400, 1.25, 2), GATE)
    assert slow["verdict"] == "fail" and slow["low"] > 1.05 and 1.2 < slow["ratio"] < 1.3


def test_too_few_or_too_noisy_samples_are_inconclusive_not_a_verdict():
    few = latency_verdict(noisy(10, 1.0, 1), noisy(10, 2.0, 2), GATE)
    assert few["verdict"] == "inconclusive" and "too few samples" in few["reason"]
    wild = latency_verdict(noisy(60, 1.0, 1, spread=0.6), noisy(60, 1.05, 2, spread=0.6), GATE)
    assert wild["verdict"] == "inconclusive" and wild["low"] < 1.05 < wild["high"]


def test_pairing_uses_the_shared_moments():
    # Both series share a slow stretch (a neighbour); timed interleaved, it cancels out of the ratio.
    load = np.repeat(np.random.default_rng(0).uniform(1.0, 1.6, 20), 20)
    base, cur = list(load * noisy(400, 1.0, 1, 0.01)), list(load * noisy(400, 1.02, 2, 0.01))
    unpaired, paired = latency_verdict(base, cur, GATE), latency_verdict(base, cur, GATE, paired=True)
    assert paired["verdict"] == "pass" and paired["high"] - paired["low"] < unpaired["high"] - unpaired["low"]


@pytest.fixture(scope="module")
def real_reports(tmp_path_factory):
    """Baseline and candidate results for two rows of a real model in onnxruntime (a CIFAR ResNet-20, about a
    millisecond: timings stable enough to judge from stored files), timed interleaved with itself in one
    agent; the candidate's first row with a 60% injected slowdown."""
    import torch

    from edgeship.pipeline.models.zoo import build_model

    folder = tmp_path_factory.mktemp("gate")
    model = folder / "resnet20.onnx"
    torch.manual_seed(0)
    net = build_model("cifar_resnet20", 10, 3, 32, {"width": 16}).eval()
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(model), input_names=["input"], dynamo=False)
    files = {"baseline": {"results": []}, "slower": {"results": []}}
    for precision, slowdown in (("fp32", 0.6), ("int8", 0.0)):
        request = BenchRequest(eval_npz=None, warmup=20, min_runs=400, min_seconds=1.0, baseline_model=model,
                               slowdown=slowdown)
        timed = LocalTarget().bench_many([(model, "onnx")], request)[0]
        assert timed["status"] == "ok", timed.get("error")
        row = {"model": "resnet20", "format": "onnx", "precision": precision, "target": "local", "status": "ok",
               "accuracy": 90.0, "emulated": False, "peak_rss_mb": timed["peak_rss_mb"]}
        files["baseline"]["results"].append({**row, "timings_ms": timed["baseline_timings_ms"]})
        files["slower"]["results"].append({**row, "timings_ms": timed["timings_ms"]})
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    return paths


def test_check_fails_a_real_slowdown_and_writes_the_step_summary(real_reports, tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code = main(["check", str(real_reports["slower"]), "--baseline", str(real_reports["baseline"]), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["verdict"] == "fail"
    fp32, int8 = sorted(result["rows"], key=lambda r: r["precision"])
    assert fp32["verdict"] == "fail" and fp32["latency"]["low"] > 1.1
    assert int8["latency"]["ratio"] < fp32["latency"]["ratio"]  # the same model, not slowed
    assert "## edgeship check: FAIL" in summary.read_text() and "slower by more than 10%" in summary.read_text()


def test_accuracy_drop_fails_and_rows_that_come_and_go_are_listed(real_reports, tmp_path, capsys):
    data = json.loads(real_reports["baseline"].read_text())
    gone = data["results"].pop()
    data["results"][0]["accuracy"] -= 1.0
    data["results"].append({**data["results"][0], "target": "pi4", "emulated": True})
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    assert main(["check", str(changed), "--baseline", str(real_reports["baseline"]), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    first = result["rows"][0]
    assert first["verdict"] == "fail" and "dropped 1.00 points" in first["reason"]
    assert [r["target"] for r in result["appeared"]] == ["pi4"]
    assert [(r["model"], r["format"]) for r in result["disappeared"]] == [(gone["model"], gone["format"])]


def test_peak_memory_growth_fails_unless_turned_off(real_reports, tmp_path, capsys):
    data = json.loads(real_reports["baseline"].read_text())
    assert all(r["peak_rss_mb"] > 10 for r in data["results"])  # the agent's real measurement
    data["results"][0]["peak_rss_mb"] *= 1.5
    grown = tmp_path / "grown.json"
    grown.write_text(json.dumps(data))
    # the same stored timings on both sides: a latency within 50% passes even across runs
    same_speed = ["--max-latency-regression", "50%", "--json"]
    assert main(["check", str(grown), "--baseline", str(real_reports["baseline"]), *same_speed]) == 1
    first = json.loads(capsys.readouterr().out)["rows"][0]
    assert first["verdict"] == "fail" and "peak RSS grew 50%" in first["reason"]
    assert first["memory"]["ratio"] == pytest.approx(1.5)
    assert main(["check", str(grown), "--baseline", str(real_reports["baseline"]), *same_speed,
                 "--max-memory-regression", "60%"]) == 0
    assert main(["check", str(grown), "--baseline", str(real_reports["baseline"]), *same_speed,
                 "--max-memory-regression", "off"]) == 0


def test_inconclusive_rows_are_measured_again_interleaved(tiny_run, tmp_path, capsys):
    """A copy of a run checked against the run: its 5-iteration rows cannot be judged, so each model is timed
    again beside its baseline in one agent (paired), and the unchanged models pass."""
    import shutil

    run_dir = tiny_run[0]
    copy_dir = tmp_path / "candidate"
    shutil.copytree(run_dir, copy_dir)
    code = main(["check", str(copy_dir), "--baseline", str(run_dir), "--remeasure", "3", "--formats", "onnx",
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    onnx = [r for r in result["rows"] if r["format"] == "onnx"]
    assert onnx and all(r["latency"]["interleaved"] for r in onnx)
    assert len(onnx) == len(result["rows"])  # --formats onnx: the other formats' rows are not judged
    # Sub-millisecond models on a shared 2-core machine: a row may stay inconclusive after three looks (and
    # must then say why), but the interleaved timing decides most of them, and an unchanged model never fails.
    assert sum(r["verdict"] == "pass" for r in onnx) >= len(onnx) / 2, [r["reason"] for r in onnx]
    assert all("too noisy" in r["reason"] for r in onnx if r["verdict"] == "inconclusive")
    assert code in (0, 3)
    assert not any(r["verdict"] == "fail" for r in result["rows"])


def test_baseline_update_then_check(tiny_run, tmp_path, capsys):
    run_dir = tiny_run[0]
    out = tmp_path / "edgeship-baseline.json"
    assert main(["baseline", "update", str(run_dir), "--out", str(out)]) == 0
    assert "rows written to" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["format"] == "edgeship-baseline/1" and not any(r["timings_ms"] for r in saved["results"])
    timings = json.loads((tmp_path / saved["timings_file"]).read_text())["rows"]  # the raw timings, beside it
    assert saved["timings_file"] == "edgeship-baseline.timings.json" and all(r["timings_ms"] for r in timings)
    # The tiny run times 5 iterations per model: too few to judge, so inconclusive (exit 3), never a pass.
    assert main(["check", str(run_dir), "--baseline", str(out), "--remeasure", "0", "--json"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "inconclusive"
    assert all("too few samples" in r["reason"] for r in result["rows"] if r["verdict"] == "inconclusive")


@pytest.mark.parametrize("args, message", [
    (["check", "nowhere.json", "--baseline", "nowhere.json"], "results file not found: nowhere.json"),
    (["check", "{bad}", "--baseline", "{bad}"], "not a results file"),
    (["check", "{list}", "--baseline", "{list}"], "not an edgeship report or baseline"),
    (["check", "{list}", "--baseline", "{list}", "--max-latency-regression", "ten"], "give a percentage"),
    (["check", "{list}", "--baseline", "{list}", "--confidence", "1.5"], "--confidence"),
])
def test_unusable_input_exits_2_with_one_line(args, message, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    args = [a.replace("{bad}", str(tmp_path / "bad.json")).replace("{list}", str(tmp_path / "list.json"))
            for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_shift_between_runs_is_not_a_verdict_on_stored_timings():
    """Two runs of one model on a busy machine: the second 12% slower throughout. Resampling inside each run
    calls that a fail; judged across runs (interval widened by the between-run spread) it is inconclusive."""
    first, second = noisy(400, 1.0, 1, spread=0.02), noisy(400, 1.12, 2, spread=0.02)
    inside = latency_verdict(first, second, GATE)
    assert inside["verdict"] == "fail"
    across = across_runs(inside, GATE)
    assert across["verdict"] == "inconclusive" and "separate runs" in across["reason"]
    assert across_runs(latency_verdict(first, noisy(400, 1.6, 3, spread=0.02), GATE), GATE)["verdict"] == "fail"


def test_each_look_is_judged_at_a_corrected_confidence():
    looks = GateSettings(confidence=0.99, looks=3).per_look()
    assert looks.confidence == pytest.approx(1 - 0.01 / 3)
    assert GateSettings(confidence=0.99, looks=1).per_look().confidence == pytest.approx(0.99)
