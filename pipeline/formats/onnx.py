"""ONNX: export with torch.onnx (TorchScript path), int8 with onnxruntime's static QDQ quantizer."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from calibration.adapters import onnxruntime_reader
from calibration.calibration_set import CalibrationSet

SUFFIX = ".onnx"
RUNTIME = "onnxruntime"
PACKAGES = ("onnx", "onnxruntime")
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    path = out / f"model{SUFFIX}"
    torch.onnx.export(model.eval(), (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamo=False, opset_version=opset)
    return path.name


def quantize(fp32_path: Path, model: torch.nn.Module, example: torch.Tensor, calib: CalibrationSet,
             out: Path) -> str:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out / "preprocessed.onnx"
    quant_pre_process(str(fp32_path), str(prepared))
    path = out / f"model-int8{SUFFIX}"
    quantize_static(str(prepared), str(path), onnxruntime_reader(calib, INPUT_NAME), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    prepared.unlink()
    return path.name


def quantized_ops(path: Path) -> dict[str, int]:
    import onnx

    counts = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    return {op: counts[op] for op in ("QuantizeLinear", "DequantizeLinear") if counts[op]}
