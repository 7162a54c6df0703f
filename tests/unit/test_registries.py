"""The registries and the standalone agent's own tables agree; every plug-in meets its contract."""
from __future__ import annotations

import typing

from edgeship.pipeline.core.contracts.formats import format_by_suffix, model_files
from edgeship.pipeline.core.contracts.plugins import FORMATS, METHODS, TARGET_TYPES, TASKS
from edgeship.targets import agent


def test_every_format_runs_on_an_agent_runner():
    assert FORMATS.names()[:3] == ["onnx", "tflite", "openvino"]
    for name, fmt in FORMATS.items():
        assert fmt.runner in agent.RUNNERS, name


def test_agent_suffix_table_agrees_with_the_built_in_formats():
    for suffix, runner in agent.FORMAT_BY_SUFFIX.items():
        fmt = format_by_suffix(suffix)
        assert fmt is not None and (fmt == "torch" or FORMATS.get(fmt).runner == runner), suffix
    for name in ("onnx", "tflite", "openvino"):
        assert agent.FORMAT_BY_SUFFIX[FORMATS.get(name).suffix] == FORMATS.get(name).runner


def test_companion_files_travel_with_the_model(tmp_path):
    (tmp_path / "model.xml").write_text("<net/>")
    (tmp_path / "model.bin").write_bytes(b"\0")
    (tmp_path / "model.onnx").write_bytes(b"\0")
    assert model_files(tmp_path / "model.xml", "openvino") == [tmp_path / "model.xml", tmp_path / "model.bin"]
    assert model_files(tmp_path / "model.onnx", "onnx") == [tmp_path / "model.onnx"]


def test_each_target_type_config_is_tagged_with_its_name():
    assert TARGET_TYPES.names()[:4] == ["local", "ssh", "docker", "qemu-arm64"]
    for name, kind in TARGET_TYPES.items():
        literal = typing.get_args(kind.config.model_fields["type"].annotation)
        assert literal == (name,), name
    assert TARGET_TYPES.get("local").runs_torch and TARGET_TYPES.get("local").interleaved_timing
    assert not TARGET_TYPES.get("qemu-arm64").native_latency


def test_methods_carry_their_published_defaults():
    defaults = {name: (m.default_beta, m.needs_layers) for name, m in METHODS.items()}
    assert {k: defaults[k] for k in ("kd", "fitnets", "at", "sp", "dkd", "rkd", "pkt")} == {
        "kd": (0.0, False), "fitnets": (100.0, True), "at": (1000.0, True), "sp": (3000.0, True), "dkd": (1.0, False),
        "rkd": (1.0, True), "pkt": (30000.0, True)}
    assert METHODS.get("fitnets").display == "FitNets"


def test_classification_is_the_first_task():
    import torch

    task = TASKS.get("classification")
    logits = torch.tensor([[0.1, 2.0], [3.0, -1.0]])
    assert task.predict_labels(logits).tolist() == [1, 0]
    assert task.loss(logits, torch.tensor([1, 0])).item() < 0.2
