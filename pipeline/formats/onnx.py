"""ONNX: export with torch.onnx (TorchScript path), int8 with onnxruntime's static QDQ quantizer."""
from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter
from pathlib import Path

import torch

from edgeship.calibration.adapters import onnxruntime_reader
from edgeship.calibration.calibration_set import CalibrationSet
from edgeship.calibration.presets import PRESETS
from edgeship.pipeline.core.contracts.formats import Format
from edgeship.pipeline.core.contracts.plugins import FORMATS

SUFFIX = ".onnx"
PACKAGES = ("onnx", "onnxruntime")
INPUT_NAME, OUTPUT_NAME = "input", "logits"
LAYER_OPS = ("Conv", "Gemm", "MatMul", "ConvTranspose")


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, opset: int) -> str:
    path = out / f"model{SUFFIX}"
    # A dynamic batch dimension: batch 1 for latency, larger batches for bench.batch_sizes.
    torch.onnx.export(model.eval(), (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamo=False, opset_version=opset,
                      dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    return path.name


def _preprocessed(fp32_path: Path, out: Path) -> Path:
    """Shape inference and graph optimization that onnxruntime recommends before quantizing; node names of
    this graph are the layer names that sensitivity analysis and nodes_to_exclude use."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out / "preprocessed.onnx"
    if not prepared.exists():
        quant_pre_process(str(fp32_path), str(prepared))
    return prepared


def layers(fp32_path: Path, model: torch.nn.Module, out: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(_preprocessed(fp32_path, out))).graph
    return [node.name for node in graph.node if node.op_type in LAYER_OPS]


def quantize(fp32_path: Path, model: torch.nn.Module, example: torch.Tensor, calib: CalibrationSet, out: Path,
             qcfg, exclude: list[str], name: str) -> str:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    preset = PRESETS[qcfg.preset]
    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[qcfg.calibration.method]
    path = out / f"{name}{SUFFIX}"
    prepared = _preprocessed(fp32_path, out)
    with tempfile.TemporaryDirectory(prefix="edgeship-calib-") as tmp:
        cache = _histogram_ranges(prepared, calib, method, Path(tmp)) if method != CalibrationMethod.MinMax else None
        quantize_static(str(prepared), str(path), onnxruntime_reader(calib, INPUT_NAME),
                        quant_format=QuantFormat.QDQ, per_channel=qcfg.per_channel,
                        reduce_range=preset.ort_reduce_range,
                        activation_type=getattr(QuantType, preset.ort_activation),
                        weight_type=getattr(QuantType, preset.ort_weight), nodes_to_exclude=list(exclude),
                        calibrate_method=method, calibration_cache_path=cache)
    return path.name


# quantize_static builds its histogram calibrators with 128 bins and 128 quantized bins and passes no bin
# count through: entropy's KL search then has one candidate, the full range, and is min-max in disguise.
# These are the counts TensorRT and onnxruntime's own percentile default use.
HISTOGRAM_OPTIONS = {"num_bins": 2048, "num_quantized_bins": 128}


def _histogram_ranges(prepared: Path, calib: CalibrationSet, method, folder: Path) -> Path:
    """Entropy or percentile ranges from onnxruntime's calibrator with enough bins, in its cache format."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    calibrator = create_calibrator(prepared, None, augmented_model_path=str(folder / "augmented.onnx"),
                                   calibrate_method=method, extra_options=HISTOGRAM_OPTIONS)
    with contextlib.redirect_stdout(io.StringIO()):  # the calibrators print their settings
        calibrator.collect_data(onnxruntime_reader(calib, INPUT_NAME))
        ranges = calibrator.compute_data()
    cache = folder / "ranges.json"
    save_tensors_data(ranges, cache)
    return cache


def cleanup(out: Path) -> None:
    (out / "preprocessed.onnx").unlink(missing_ok=True)


def quantized_ops(path: Path) -> dict[str, int]:
    import onnx

    counts = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    return {op: counts[op] for op in ("QuantizeLinear", "DequantizeLinear") if counts[op]}


def float_layers(path: Path) -> list[str]:
    """Layers whose weight input is not fed by a DequantizeLinear: they run in float."""
    import onnx

    graph = onnx.load(str(path)).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return [n.name for n in graph.node if n.op_type in LAYER_OPS and len(n.input) > 1
            and n.input[1] not in dequantized]


FORMATS.register(Format(name="onnx", suffix=SUFFIX, runner="onnx", runtime="onnxruntime", packages=PACKAGES,
                        export=export, quantize=quantize, layers=layers, quantized_ops=quantized_ops,
                        float_layers=float_layers, cleanup=cleanup))
