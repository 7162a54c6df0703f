"""A latency budget on a board reached by ssh and on a Docker container: the search times its candidates and its
layer table there (one table per target identity), and ship judges the files by that target's timings."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.stages.budget_search import SMALLER_STEPS


def _search_on(target: dict, tiny_run, tmp_path, capsys) -> None:
    run_dir, _, recipe = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)  # the trained stages are reused; the session's run folder stays as it was
    raw = {**recipe.model_dump(mode="json"), "targets": [target],
           "export": {**recipe.export.model_dump(mode="json"), "formats": ["onnx"]},
           "bench": {**recipe.bench.model_dump(mode="json"), "min_runs": 40, "profile_runs": 0,
                     "paired_min_runs": 0},
           # a latency this 7 KB CNN may meet on a fast CPU (0.006 ms fp32 on the AVX-512 EPYC) and a size no file
           # meets: steps until the search's time is up
           "budget": {"latency_ms": 0.011, "size_kb": 1.0, "target": target["name"], "max_search_seconds": 45,
                      "candidates": 2, "timed": 1}}
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["optimize", str(path), "--run-dir", str(copy)]) == 4
    assert "budget not met" in capsys.readouterr().out
    report = json.loads((copy / "report.json").read_text())
    assert f"on {target['name']}; fastest:" in report["ship"]["onnx"]["reason"]  # judged by that target's timings
    budget = report["budget"]
    assert budget["target"] == target["name"] and budget["layer_table"]["shapes"] > 0
    # the first step's candidates (or, where none was faster whole, what the search tried before it stopped)
    step = budget["steps"][1]["tried"] if len(budget["steps"]) > 1 else budget["stopped"]["tried"]
    # one timed whole per try (budget.timed), a try again at half the reduction where it saved nothing
    assert all("estimated_ms" in t for t in step) and 1 <= sum("latency_ms" in t for t in step) <= 1 + SMALLER_STEPS
    assert budget["final"]["measured"]["runtime"].startswith("onnxruntime")


@pytest.mark.ssh
def test_a_budget_is_searched_on_an_ssh_board(sshd_x86, tiny_run, tmp_path, capsys):
    import sys

    _search_on(sshd_x86.target(python=sys.executable), tiny_run, tmp_path, capsys)


@pytest.mark.docker
def test_a_budget_is_searched_in_a_container(docker_engine, docker_image_amd64, tiny_run, tmp_path, capsys):
    target = {"name": "box", "type": "docker", "image": docker_image_amd64, "docker_host": docker_engine.host}
    _search_on(target, tiny_run, tmp_path, capsys)
