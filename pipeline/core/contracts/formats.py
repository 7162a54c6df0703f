"""The Format contract: what a model format must say and do to go through export, int8, parity and bench.

A format is one file that builds a `Format` and registers it in `core/contracts/plugins.py FORMATS`. The device
agent runs it with one of its runners (`runner`: onnx, openvino, tflite, torch), named in the agent's own table.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgeship.pipeline.core.contracts.plugins import FORMATS

TORCH = "torch"  # the training stages' own format (an ExportedProgram): measured, never exported to


@dataclass(frozen=True)
class Format:
    name: str                                   # recipe and report name: onnx, tflite, openvino, ...
    suffix: str                                 # the model file's suffix: .onnx
    runner: str                                 # the device agent's runner that runs it
    runtime: str                                # the runtime package a target needs (targets check)
    packages: tuple[str, ...]                   # Python packages whose versions go into the stage keys
    # export(model, example, out_folder, opset) -> file name written in out_folder
    export: Callable
    # quantize(fp32_path, model, example, calibration, out, qcfg, exclude_layers, name) -> file name
    quantize: Callable
    layers: Callable                            # (fp32_path, model, out) -> layer names the int8 budget can keep float
    quantized_ops: Callable                     # (path) -> {op: count}: proof that int8 happened
    float_layers: Callable                      # (path) -> layers still in float in an int8 file
    cleanup: Callable = lambda out: None        # remove quantizer leftovers from the stage folder
    companions: tuple[str, ...] = ()            # files beside the model with these suffixes travel with it
    int8_input_dtype: str = "float32"           # the input dtype of its int8 files (full-integer TFLite: int8)
    # A standalone module pushed with the agent that adds `runner` to its RUNNERS (targets/agent/extensions.py):
    # a format whose runtime the agent does not know brings its runner this way.
    agent_module: str | None = None


def format_named(name: str, field: str | None = None) -> Format:
    return FORMATS.get(name, field)


def runner_of(fmt: str) -> str:
    """The agent runner for a format name (torch is its own)."""
    return TORCH if fmt == TORCH else format_named(fmt).runner


def model_files(model: Path, fmt: str) -> list[Path]:
    """The model file and the companions its format names (OpenVINO's .xml comes with its .bin weights)."""
    model = Path(model)
    if fmt == TORCH:
        return [model]
    companions = [model.with_suffix(s) for s in format_named(fmt).companions]
    return [model] + [c for c in companions if c.is_file()]


def format_by_suffix(suffix: str) -> str | None:
    """For model files given on the command line: the first registered format with that suffix."""
    if suffix == ".pt2":
        return TORCH
    return next((name for name, f in FORMATS.items() if f.suffix == suffix), None)
