"""A toy format plug-in (docs/extending.md): ONNX that onnxruntime has already optimized offline.

The exported graph goes once through onnxruntime's basic graph optimizations (constant folding, redundant
node elimination) and is saved, so a device loads a graph with nothing left to fold. It brings its own runner to
the agent (toy_format_runner.py: the session with graph optimization off, pushed inside the agent's zipapp);
int8 is onnxruntime's static quantizer, as for plain ONNX.
"""
from __future__ import annotations

from pathlib import Path

import torch

from edgeship.pipeline.core.contracts.formats import Format
from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.formats import onnx

NAME = "onnx-ortopt"


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    import onnxruntime as ort

    raw = out / onnx.export(model, example, out, opset)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(out / "model-ortopt.onnx")
    ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])  # writes the optimized file
    raw.unlink()
    return "model-ortopt.onnx"


FORMATS.register(Format(name=NAME, suffix=".onnx", runner="onnx-preoptimized", runtime="onnxruntime",
                        agent_module=str(Path(__file__).with_name("toy_format_runner.py")), packages=onnx.PACKAGES,
                        export=export, quantize=onnx.quantize, layers=onnx.layers, quantized_ops=onnx.quantized_ops,
                        float_layers=onnx.float_layers, cleanup=onnx.cleanup))
