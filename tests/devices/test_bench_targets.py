"""Several targets in one bench: thread sweep and pinning, an emulated Pi 5, and a board that is gone.

They run concurrently; the gone one gives failed rows naming the host and the others complete. Emulated
latency is kept in the results but never shown beside native latency.
"""
from __future__ import annotations

import json

import pytest
import yaml

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.reporting.report import markdown
from tests.support.sshd import free_port


@pytest.mark.arm64
def test_bench_run_folder_on_local_sweep_emulated_pi_and_gone_board(tiny_run, arm64_root, tmp_path, capsys):
    run_dir, _, recipe = tiny_run
    report_before = (run_dir / "report.json").read_text()
    targets = [{"name": "cpu0", "type": "local", "threads": [1, 2], "cpuset": "0"},
               {"name": "pi5", "type": "qemu-arm64", "rootfs": str(arm64_root), "cpu": "cortex-a76"},
               {"name": "gone", "type": "ssh", "host": "127.0.0.1", "port": free_port(), "connect_timeout": 3}]
    raw = {**recipe.model_dump(mode="json"), "targets": targets}
    recipe_file = tmp_path / "targets.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))

    code = main(["bench", str(run_dir), "--recipe", str(recipe_file)])
    out = capsys.readouterr().out
    assert code == 1  # the gone board's rows failed
    assert "cpu0@1t" in out and "cpu0@2t" in out and "pi5" in out and "emulated" in out
    assert (run_dir / "report.json").read_text() == report_before  # bench alone never rewrites the report

    results = {p.parent.name + "/" + p.stem: json.loads(p.read_text()) for p in (run_dir / "bench").glob("*/*.json")}
    sweep = [r for k, r in results.items() if k.startswith("cpu0@")]
    assert sweep and all(r["status"] == "ok" for r in sweep)
    assert {r["threads"] for r in sweep} == {1, 2}
    pi5 = [r for k, r in results.items() if k.startswith("pi5/")]
    assert len(pi5) == 9 and all(r["status"] == "ok" and r["emulated"] for r in pi5)  # 6 student + 3 teacher files
    assert all("asimddp" in r["platform"]["cpu_features"] for r in pi5)  # the Pi 5's dot product, from cpuinfo
    gone = [r for k, r in results.items() if k.startswith("gone/")]
    assert len(gone) == 9 and all(r["status"] == "failed" and "127.0.0.1" in r["error"] for r in gone)


@pytest.mark.arm64
def test_report_keeps_emulated_latency_apart(tiny_run, arm64_root):
    from edgeship.pipeline.config.recipe import parse_recipe
    from edgeship.pipeline.engine.optimize import optimize

    run_dir, _, recipe = tiny_run
    raw = {**recipe.model_dump(mode="json"),
           "targets": [{"name": "local"}, {"name": "pi4", "type": "qemu-arm64", "rootfs": str(arm64_root)}]}
    report = optimize(parse_recipe(raw), run_dir, publish=False)
    pi4 = [r for r in report.results if r.target == "pi4"]
    assert pi4 and all(r.emulated and r.ok and r.speedup_vs_teacher is None for r in pi4)
    assert all(e["latency_ratio"] is None and e["warning"] is None
               for e in report.int8_vs_fp32 if e["target"] == "pi4")
    assert {e["target"] for e in report.int8_vs_fp32} == {"local", "pi4"}  # ARM int8 accuracy is reported
    assert all(c.reason.count("on local") for c in report.ship.values() if c.stage)
    text = markdown(report)
    assert "## Per target" in text and "pi4 acc %" in text and "| emulated |" in text
    assert "yes (cortex-a72)" in text
    result_lines = [ln for ln in text.splitlines() if "| pi4 | " in ln and "| ok |" in ln]
    assert len(result_lines) == 9  # 6 student files, the teacher in 3 formats
    assert all("| emulated | emulated |" in ln for ln in result_lines)  # p50, p90: no emulated milliseconds
    per_target = [ln for ln in text.split("## Per target")[1].splitlines() if ln.startswith("| teacher |")]
    assert per_target and per_target[0].endswith("| not measured | - |")  # no torch on the board: not a failure
