"""TFLite (LiteRT): litert-torch converts the torch module; full-integer int8 through its PT2E quantizer."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from edgeship.calibration.adapters import torch_calibrate
from edgeship.calibration.calibration_set import CalibrationSet
from edgeship.pipeline.core.contracts.formats import Format
from edgeship.pipeline.core.contracts.plugins import FORMATS

SUFFIX = ".tflite"
PACKAGES = ("litert-torch", "ai-edge-litert", "torchao")
LAYER_MODULES = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Conv1d, torch.nn.ConvTranspose2d)
LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    import litert_torch

    path = out / f"model{SUFFIX}"
    litert_torch.convert(model.eval(), (example,)).export(str(path))
    return path.name


def layers(fp32_path: Path, model: torch.nn.Module, out: Path) -> list[str]:
    # PT2E works on the torch graph, so layers are torch module names.
    return [name for name, module in model.named_modules() if isinstance(module, LAYER_MODULES)]


def quantize(fp32_path: Path, model: torch.nn.Module, example: torch.Tensor, calib: CalibrationSet, out: Path,
             qcfg, exclude: list[str], name: str) -> str:
    # PT2E quantizes the torch graph, not the fp32 .tflite: the same module the fp32 file came from.
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    # a model whose layers share weights may bring a form without sharing (PT2E folds BatchNorm in place)
    model = getattr(model, "quantization_form", lambda: model)()
    quantizer = _quantizer_leaving_float(PT2EQuantizer, exclude)
    quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    graph = torch.export.export(model.eval(), (example,)).module()
    prepared = prepare_pt2e(graph, quantizer)
    torch_calibrate(prepared, calib)
    converted = convert_pt2e(prepared, fold_quantize=False)
    path = out / f"{name}{SUFFIX}"
    litert_torch.convert(converted, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
    return path.name


def _outside(modules: list[str]):
    """Node filter: True unless the node comes from one of `modules` (fully qualified names) or their children."""
    def keep(node) -> bool:
        names = [value[0] for value in node.meta.get("nn_module_stack", {}).values()]
        return not any(n == m or n.startswith(m + ".") for n in names for m in modules)
    return keep


def _quantizer_leaving_float(base, modules: list[str]):
    """PT2EQuantizer whose global config skips `modules`. The library's own set_module_name refuses None and
    its module-name filter expects 'L__self___' stack keys that torch.export no longer writes, so it matches
    nothing; this filter reads the fully qualified names the stack values hold."""
    class LeavingFloat(base):
        def _annotate_for_static_quantization_config(self, model):
            self._annotate_all_static_patterns(model, self.global_config, _outside(modules))
            return model

    return LeavingFloat()


def cleanup(out: Path) -> None:
    pass


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path))


def quantized_ops(path: Path) -> dict[str, int]:
    counts = Counter(np.dtype(t["dtype"]).name for t in _interpreter(path).get_tensor_details())
    return {"int8_tensors": counts["int8"]} if counts["int8"] else {}


def float_layers(path: Path) -> list[str]:
    """Weight tensors of conv / fully-connected ops that are still float32."""
    interpreter = _interpreter(path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    names = []
    for op in interpreter._get_ops_details():
        if op["op_name"] in LAYER_OPS and len(op["inputs"]) > 1:
            weight = tensors[op["inputs"][1]]
            if np.dtype(weight["dtype"]) == np.float32:
                names.append(weight["name"])
    return names


FORMATS.register(Format(name="tflite", suffix=SUFFIX, runner="tflite", runtime="tflite", packages=PACKAGES,
                        export=export, quantize=quantize, layers=layers, quantized_ops=quantized_ops,
                        float_layers=float_layers, cleanup=cleanup, int8_input_dtype="int8"))
