"""Plug-ins: a toy format (with its own agent runner), target type, distillation method and task (with its own
device metric), each one file under tests/plugins/ (plus the module it pushes with the agent), go through the
whole flow; broken plug-ins are refused at start-up with one line."""
from __future__ import annotations

import json
import sys

import pytest
import torch
import torch.nn.functional as F

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.plugins import FORMATS, METHODS, TARGET_TYPES, TASKS
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from tests.support.recipes import INT8_MIN_AGREEMENT, tiny_recipe_dict

TOYS = ["tests.plugins.toy_format", "tests.plugins.toy_target", "tests.plugins.toy_method", "tests.plugins.toy_task"]
TOY_NAMES = {FORMATS: "onnx-ortopt", TARGET_TYPES: "sandbox", METHODS: "logit-mse", TASKS: "top3"}


@pytest.fixture(autouse=True)
def toys_leave_no_trace():
    """The toys registered by a test are gone after it (a fresh import registers them again)."""
    yield
    for registry, name in TOY_NAMES.items():
        registry.unregister(name)
    for module in TOYS:
        sys.modules.pop(module, None)


def test_toy_plugins_register_and_the_recipe_names_them():
    recipe = parse_recipe(tiny_recipe_dict(plugins=TOYS, **{"export.formats": ["onnx-ortopt"],
                                                             "distill.method": "logit-mse"},
                                           targets=[{"name": "box", "type": "sandbox"}]))
    assert "onnx-ortopt" in FORMATS.names() and "sandbox" in TARGET_TYPES.names() and "logit-mse" in METHODS.names()
    assert recipe.targets[0].type == "sandbox" and recipe.export.formats == ["onnx-ortopt"]


def test_a_recipe_naming_an_unknown_plugin_lists_the_registered_names():
    with pytest.raises(EdgeshipError) as err:
        parse_recipe(tiny_recipe_dict(**{"export.formats": ["coreml"]}))
    assert "unknown format 'coreml' (registered: onnx, tflite, openvino" in str(err.value)
    with pytest.raises(EdgeshipError) as err:
        parse_recipe(tiny_recipe_dict(**{"distill.method": "ofa"}))
    assert "unknown distillation method 'ofa'" in str(err.value) and "kd" in str(err.value)
    with pytest.raises(EdgeshipError) as err:
        parse_recipe(tiny_recipe_dict(targets=[{"type": "adb"}]))
    assert "type must be one of local, ssh, docker, qemu-arm64" in str(err.value)


def test_toy_method_loss_is_the_hand_computed_mse():
    parse_recipe(tiny_recipe_dict(plugins=["tests.plugins.toy_method"]))
    method = METHODS.get("logit-mse")(None)
    s = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = torch.tensor([[1.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    # ((0 + 4 + 0) + (1 + 1 + 1)) / 6 elements
    assert method.loss(s, t, [], [], None, 1).item() == pytest.approx(7 / 6)
    assert method.loss(s, t, [], [], None, 1).item() == pytest.approx(F.mse_loss(s, t).item())


@pytest.mark.parametrize("plugin, words", [
    ("tests.plugins.bad_name_taken", "format plug-in 'onnx'"),
    ("tests.plugins.bad_missing_part", "missing make"),
    ("tests.plugins.bad_import", "cannot import it (ModuleNotFoundError"),
    ("tests/plugins/no_such_file.py", "file not found"),
])
def test_a_broken_plugin_is_refused_with_one_line(plugin, words, write_yaml, capsys):
    code = main(["optimize", str(write_yaml(tiny_recipe_dict(plugins=[plugin]))), "--run-dir", "/nonexistent/x"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"edgeship: error: plug-in {plugin}: ") and words in err, err
    if plugin.endswith("name_taken"):
        assert "already taken by edgeship.pipeline.formats.onnx" in err


@pytest.mark.slow
def test_toy_format_target_method_and_task_run_through_the_flow(tmp_path):
    """One optimize: the toy method distils for the toy task, the toy format exports and quantizes, the toy
    target benches, with the format's runner and the task's metric inside the agent's zipapp."""
    from edgeship.pipeline.engine.optimize import optimize

    raw = tiny_recipe_dict(plugins=TOYS, task="top3", **{"export.formats": ["onnx-ortopt"],
                                                         "distill.method": "logit-mse", "prune.enabled": False,
                                                         "teacher.train.epochs": 1, "student.train.epochs": 2},
                           targets=[{"name": "local"}, {"name": "box", "type": "sandbox"}])
    report = optimize(parse_recipe(raw), tmp_path / "run")
    rows = {(r.stage, r.target): r for r in report.results}
    assert report.metric == "top-3 %"
    for precision in ("fp32", "int8"):
        for target in ("local", "box"):
            row = rows[(f"onnx-ortopt-{precision}", target)]
            assert row.ok, row
            # the plug-in's own runner ran (graph optimization off), and the task's metric with its top-3 step
            assert row.runtime == "onnxruntime" and row.runtime_settings == {"graph_optimization": "off"}
            assert row.accuracy > 70 and row.postprocess_ms > 0 and row.preprocess_ms > 0
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "| post ms |" in markdown and "top-3 %" in markdown
    assert ("student-kd", "box") not in rows  # the sandbox does not run torch programs
    assert rows[("student-kd", "local")].model == "student (logit regression)"
    folder = next((tmp_path / "run" / "stages").glob("onnx-ortopt-int8-*"))
    meta = json.loads((folder / "artifact.json").read_text())
    assert meta["metrics"]["quantized_ops"]["QuantizeLinear"] > 0
    assert meta["metrics"]["parity"]["agreement"] >= INT8_MIN_AGREEMENT
    assert meta["metrics"]["parity"]["agreement_of"] == "top-3 set agreement"
    kd = json.loads(next((tmp_path / "run" / "stages").glob("student-kd-*")).joinpath("artifact.json").read_text())
    assert kd["metrics"]["method"] == "logit-mse"
    assert "onnx-ortopt" in report.ship
