"""OpenVINO IR: openvino.convert_model from the torch module, int8 with NNCF post-training quantization."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from edgeship.calibration.adapters import nncf_dataset
from edgeship.calibration.calibration_set import CalibrationSet
from edgeship.calibration.presets import PRESETS
from edgeship.pipeline.core.contracts.formats import Format
from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.formats.batch_norm_fold import batch_norms_folded

SUFFIX = ".xml"
PACKAGES = ("openvino", "nncf")
LAYER_OPS = ("Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData")
WEIGHT_PATH_OPS = ("Convert", "Multiply", "Subtract", "Reshape", "Transpose", "Unsqueeze")


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    import openvino as ov

    ov_model = ov.convert_model(batch_norms_folded(model.eval(), example), example_input=example,
                                input=[tuple(example.shape)])
    path = out / f"model{SUFFIX}"
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return path.name


def _read(path: Path):
    import openvino as ov

    return ov.Core().read_model(str(path))


def layers(fp32_path: Path, model: torch.nn.Module, out: Path) -> list[str]:
    return [op.get_friendly_name() for op in _read(fp32_path).get_ordered_ops() if op.get_type_name() in LAYER_OPS]


def quantize(fp32_path: Path, model: torch.nn.Module, example: torch.Tensor, calib: CalibrationSet, out: Path,
             qcfg, exclude: list[str], name: str) -> str:
    import nncf
    import openvino as ov

    preset = getattr(nncf.QuantizationPreset, PRESETS[qcfg.preset].nncf_preset.upper())
    ignored = nncf.IgnoredScope(names=list(exclude)) if exclude else None
    advanced = nncf.AdvancedQuantizationParameters(disable_bias_correction=qcfg.bias_correction == "none")
    quantized = nncf.quantize(_read(fp32_path), nncf_dataset(calib), preset=preset, subset_size=len(calib),
                              fast_bias_correction=qcfg.bias_correction == "fast",
                              target_device=nncf.TargetDevice.CPU, ignored_scope=ignored,
                              advanced_parameters=advanced)
    path = out / f"{name}{SUFFIX}"
    ov.save_model(quantized, str(path), compress_to_fp16=False)
    return path.name


def cleanup(out: Path) -> None:
    pass


def quantized_ops(path: Path) -> dict[str, int]:
    counts = Counter(op.get_type_name() for op in _read(path).get_ops())
    return {"FakeQuantize": counts["FakeQuantize"]} if counts["FakeQuantize"] else {}


def _weight_is_int8(op) -> bool:
    """Follow the weight input up through converts and scales: int8 constants or a FakeQuantize mean int8."""
    node = op.input_value(1).get_node()
    while True:
        kind = node.get_type_name()
        if kind == "FakeQuantize":
            return True
        if kind == "Constant":
            return node.get_element_type().get_type_name() in ("i8", "u8", "i4", "u4")
        if kind not in WEIGHT_PATH_OPS:
            return False
        node = node.input_value(0).get_node()


def float_layers(path: Path) -> list[str]:
    return [op.get_friendly_name() for op in _read(path).get_ordered_ops()
            if op.get_type_name() in LAYER_OPS and not _weight_is_int8(op)]


FORMATS.register(Format(name="openvino", suffix=SUFFIX, runner="openvino", runtime="openvino", packages=PACKAGES,
                        export=export, quantize=quantize, layers=layers, quantized_ops=quantized_ops,
                        float_layers=float_layers, cleanup=cleanup, companions=(".bin",)))
