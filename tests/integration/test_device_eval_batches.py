"""Accuracy on the device in batches wherever the file takes them (ONNX's dynamic batch, OpenVINO's reshape,
LiteRT's resize, torch through vmap): the same figures as one image at a time, in fewer calls. A file that cannot
take a batch (litert-torch writes a flatten with batch 1 baked in: XNNPACK refuses the resize) is evaluated one
image at a time, as before."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeship.calibration.calibration_set import build_calibration_set
from edgeship.pipeline.config.recipe import DataConfig, QuantizeConfig, TrainConfig
from edgeship.pipeline.core.contracts.formats import format_by_suffix, format_named, runner_of
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.models.torch_artifact import PROGRAM_FILE, save_torch_model
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.training.loop import train
from edgeship.targets.agent import evaluate_details, open_runner
from edgeship.targets.agent.metrics import Batched, batched_runner
from edgeship.targets.agent_zipapp import agent_zipapp

pytestmark = pytest.mark.slow  # trains a student and writes seven files before the first comparison (about 20 s)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A briefly trained digits CNN as torch, and fp32 and int8 files of every format."""
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1, 8, {"width": 8, "depth": 2})
    train(model, data.train, None, TrainConfig(epochs=2, lr=0.01, optimizer="adam"), seed=0)
    out = tmp_path_factory.mktemp("batches")
    example = torch.zeros(1, 1, 8, 8)
    save_torch_model(model, out, data.preprocessing)
    found = {("torch", "fp32"): out / PROGRAM_FILE}
    calibration = build_calibration_set(data.train.inputs(), data.train.labels, data.key, 64, "stratified", 0)
    for fmt in ("onnx", "openvino", "tflite"):
        backend = format_named(fmt)
        (out / fmt).mkdir()
        found[(fmt, "fp32")] = out / fmt / backend.export(model, example, out / fmt, 17)
        found[(fmt, "int8")] = out / fmt / backend.quantize(found[(fmt, "fp32")], model, example, calibration,
                                                            out / fmt, QuantizeConfig(), [], "int8")
    inputs, labels = data.test.inputs_and_targets()
    return found, inputs, labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)


CASES = [("torch", "fp32"), ("onnx", "fp32"), ("onnx", "int8"), ("openvino", "fp32"), ("openvino", "int8"),
         ("tflite", "fp32"), ("tflite", "int8")]


@pytest.mark.parametrize("fmt, precision", [c for c in CASES if c[0] in ("torch", "onnx")])
def test_batched_outputs_are_the_outputs_of_one_image_at_a_time(files, fmt, precision):
    """In this process only for the runtimes the host itself batches (int8_budget.IN_PROCESS_BATCHES)."""
    found, inputs, labels = files
    path = str(found[(fmt, precision)])
    one = open_runner(runner_of(fmt), path)
    batched = batched_runner(open_runner, runner_of(fmt), path, 1, one, inputs)
    assert isinstance(batched, Batched) and batched.size == min(256, len(inputs))
    alone = np.concatenate([one(inputs[i:i + 1]) for i in range(len(inputs))])
    together = np.concatenate([batched(inputs[s:s + batched.size]) for s in range(0, len(inputs), batched.size)])
    assert together.shape == alone.shape  # the padded last batch gave back only its own images
    assert (together.argmax(1) == alone.argmax(1)).all()
    assert evaluate_details(one, inputs, labels, batched) == evaluate_details(one, inputs, labels)


def _agent(model: Path, eval_npz: Path, *extra: str) -> dict:
    argv = [sys.executable, str(agent_zipapp()), "--model", str(model), "--format",
            runner_of(format_by_suffix(model.suffix)), "--eval", str(eval_npz), "--min-runs", "1", "--min-seconds", "0",
            "--warmup", "0", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt, precision", CASES)
def test_the_agent_scores_in_batches_with_the_figures_of_one_at_a_time(files, fmt, precision, tmp_path):
    found, inputs, labels = files
    eval_npz = tmp_path / "eval.npz"
    np.savez(eval_npz, inputs=inputs, labels=labels, metric=np.str_("top1"))
    batched, alone = _agent(found[(fmt, precision)], eval_npz), _agent(found[(fmt, precision)], eval_npz,
                                                                           "--eval-batch", "1")
    assert batched["status"] == alone["status"] == "ok", (batched.get("error"), alone.get("error"))
    assert alone["eval_batch"] == 1 and batched["accuracy"] == alone["accuracy"] > 50
    # every runtime here takes a batch, except litert-torch's files (a batch-1 flatten baked in)
    assert batched["eval_batch"] == (1 if fmt == "tflite" else min(256, len(inputs))), batched["eval_batch"]
