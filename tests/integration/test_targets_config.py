"""The recipe's targets: section, `edgeship targets check`, and the local adapter's pinning."""
from __future__ import annotations

import json

import pytest

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from tests.support.recipes import tiny_recipe_dict
from tests.support.sshd import free_port


@pytest.mark.parametrize("targets, message", [
    ([{"type": "serial"}], "type must be one of local, ssh, docker, qemu-arm64"),
    ([{"type": "ssh"}], "targets.0.ssh.host"),
    ([{"type": "ssh", "host": "pi; rm -rf /"}], "targets.0.ssh.host"),
    ([{"type": "docker", "image": "x", "platform": "linux/riscv64"}], "targets.0.docker.platform"),
    ([{"type": "qemu-arm64", "cpu": "cortex-a99"}], "targets.0.qemu-arm64.cpu"),
    ([{"name": "../up"}], "targets.0.local.name"),
    ([{"name": "a"}, {"name": "a", "type": "qemu-arm64"}], "repeated: a"),
    ([{"threads": [0]}], "targets.0.local.threads.0"),
    ([], "targets"),
])
def test_bad_targets_name_the_field(targets, message):
    with pytest.raises(EdgeshipError) as err:
        parse_recipe(tiny_recipe_dict(targets=targets))
    assert message in str(err.value)


def test_target_without_type_is_local_and_devices_skip_torch():
    recipe = parse_recipe(tiny_recipe_dict(targets=[{"name": "here"}, {"name": "pi", "type": "ssh", "host": "pi"}]))
    local, pi = recipe.targets
    assert local.type == "local" and local.measures("torch") and local.measures("onnx")
    assert not pi.measures("torch") and pi.measures("tflite")


def test_targets_check_table_and_exit_code(write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(targets=[
        {"name": "here", "cpuset": "0"},
        {"name": "gone", "type": "ssh", "host": "127.0.0.1", "port": free_port(), "connect_timeout": 3}]))
    assert main(["targets", "check", str(recipe), "--json"]) == 1  # one target is unusable
    rows = {r["target"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["here"]["usable"] and rows["here"]["machine"] == "x86_64" and rows["here"]["free_disk_mb"] > 0
    assert rows["here"]["runtimes"]["onnxruntime"] and rows["here"]["runtimes"]["tflite"]
    assert not rows["gone"]["usable"] and "cannot reach 127.0.0.1" in rows["gone"]["problem"]


def test_targets_check_passes_when_every_target_is_usable(write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(targets=[{"name": "here"}]))
    assert main(["targets", "check", str(recipe)]) == 0
    assert "here" in capsys.readouterr().out


def test_local_target_pins_to_the_cpuset(tmp_path):
    import torch

    from edgeship.pipeline.models.zoo import build_model
    from edgeship.targets.base import BenchRequest
    from edgeship.targets.local import LocalTarget

    model = build_model("simple_cnn", 3, 1, 8, {"width": 4}).eval()
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), input_names=["input"], dynamo=False)
    request = BenchRequest(eval_npz=None, min_runs=3, min_seconds=0, threads=2)
    result = LocalTarget(cpuset="0").bench_many([(path, "onnx")], request)[0]
    assert result["status"] == "ok" and result["threads"] == 2 and result["emulated"] is False
    assert result["platform"]["cpu_affinity"] == [0]


def test_bench_of_a_model_file_on_an_unknown_target_is_refused(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict())
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    assert main(["bench", str(model), "--target", "pi9", "--recipe", str(recipe)]) == 2
    assert "--target pi9: not in" in capsys.readouterr().err
