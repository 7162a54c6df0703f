"""CPU presets change what onnxruntime's quantizer emits; calibration methods are wired through."""
import numpy as np
import onnx
import pytest
import torch

from calibration.calibration_set import CalibrationSet, sample_indices
from pipeline.config.recipe import QuantizeConfig
from pipeline.formats import onnx as onnx_format
from tests.support.custom_model import tiny_mlp


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets")
    torch.manual_seed(0)
    return folder / onnx_format.export(tiny_mlp(4, 1, 8).eval(), torch.zeros(1, 1, 8, 8), folder, 17)


def _activation_zero_point_types(path):
    graph = onnx.load(str(path)).graph
    inits = {i.name: i for i in graph.initializer}
    return {inits[n.input[2]].data_type for n in graph.node if n.op_type == "QuantizeLinear" and n.input[2] in inits}


@pytest.mark.parametrize("preset, dtype", [("x86-vnni", onnx.TensorProto.UINT8), ("arm64", onnx.TensorProto.INT8)])
def test_preset_sets_activation_type(fp32, tmp_path, preset, dtype):
    calib = CalibrationSet(np.random.default_rng(0).standard_normal((20, 1, 8, 8)).astype(np.float32),
                           np.arange(20), "k")
    name = onnx_format.quantize(fp32, None, None, calib, tmp_path, QuantizeConfig(preset=preset), [], "q")
    assert _activation_zero_point_types(tmp_path / name) == {dtype}


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_calibration_methods_produce_quantized_models(fp32, tmp_path, method):
    calib = CalibrationSet(np.random.default_rng(1).standard_normal((30, 1, 8, 8)).astype(np.float32),
                           np.arange(30), "k")
    qcfg = QuantizeConfig(calibration={"method": method})
    name = onnx_format.quantize(fp32, None, None, calib, tmp_path, qcfg, [], "q")
    assert onnx_format.quantized_ops(tmp_path / name)["QuantizeLinear"] >= 2
    assert onnx_format.float_layers(tmp_path / name) == []


def test_excluded_onnx_node_stays_float(fp32, tmp_path):
    calib = CalibrationSet(np.random.default_rng(2).standard_normal((10, 1, 8, 8)).astype(np.float32),
                           np.arange(10), "k")
    layers = onnx_format.layers(fp32, None, tmp_path)
    assert len(layers) == 2  # the conv and the linear layer
    name = onnx_format.quantize(fp32, None, None, calib, tmp_path, QuantizeConfig(), [layers[0]], "q")
    assert onnx_format.float_layers(tmp_path / name) == [layers[0]]


def test_all_sampling_takes_every_sample():
    assert list(sample_indices(np.array([0, 1, 1, 2]), 2, "all", 0)) == [0, 1, 2, 3]
