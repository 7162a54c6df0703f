"""TFLite (LiteRT): litert-torch converts the torch module; full-integer int8 through its PT2E quantizer."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from calibration.adapters import torch_calibrate
from calibration.calibration_set import CalibrationSet

SUFFIX = ".tflite"
RUNTIME = "ai-edge-litert"
PACKAGES = ("litert-torch", "ai-edge-litert", "torchao")


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    import litert_torch

    path = out / f"model{SUFFIX}"
    litert_torch.convert(model.eval(), (example,)).export(str(path))
    return path.name


def quantize(fp32_path: Path, model: torch.nn.Module, example: torch.Tensor, calib: CalibrationSet,
             out: Path) -> str:
    # PT2E works on the torch graph, not on the fp32 .tflite: quantize the same module the fp32 file came from.
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    graph = torch.export.export(model.eval(), (example,)).module()
    prepared = prepare_pt2e(graph, quantizer)
    torch_calibrate(prepared, calib)
    converted = convert_pt2e(prepared, fold_quantize=False)
    path = out / f"model-int8{SUFFIX}"
    litert_torch.convert(converted, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
    return path.name


def quantized_ops(path: Path) -> dict[str, int]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    counts = Counter(np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details())
    return {"int8_tensors": counts["int8"]} if counts["int8"] else {}
