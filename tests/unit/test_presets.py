"""CPU presets change what onnxruntime's quantizer emits; calibration methods are wired through."""
import numpy as np
import onnx
import pytest
import torch

from edgeship.calibration.calibration_set import CalibrationSet, sample_indices
from edgeship.pipeline.config.recipe import QuantizeConfig
from edgeship.pipeline.formats import onnx as onnx_format
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


def _input_scale(path) -> float:
    """The scale of the QuantizeLinear on the graph input: what calibration chose for the input's range."""
    graph = onnx.load(str(path)).graph
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    node = next(n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == graph.input[0].name)
    return float(inits[node.input[1]])


def test_calibration_methods_choose_their_own_ranges(fp32, tmp_path):
    """Laplace inputs with 0.1% large outliers: min-max must cover them; entropy (KL) clips them; percentile
    (99.999%) keeps nearly all. Were the method ignored, or entropy run with onnxruntime's 128 bins (then it is
    min-max), the scales would be equal."""
    x = np.random.default_rng(1).laplace(size=(300, 1, 8, 8)).astype(np.float32)
    x.reshape(-1)[::997] = 40.0
    calib = CalibrationSet(x, np.arange(300), "k")
    scales = {}
    for method in ("minmax", "entropy", "percentile"):
        folder = tmp_path / method
        folder.mkdir()
        name = onnx_format.quantize(fp32, None, None, calib, folder, QuantizeConfig(calibration={"method": method}),
                                    [], "q")
        assert onnx_format.quantized_ops(folder / name)["QuantizeLinear"] >= 2
        assert onnx_format.float_layers(folder / name) == []
        scales[method] = _input_scale(folder / name)
    # x86-vnni quantizes activations to uint8: min-max spans [min, 40] over 255 steps.
    assert scales["minmax"] == pytest.approx((40.0 - float(x.min())) / 255, rel=1e-3)
    assert scales["entropy"] < 0.6 * scales["minmax"], scales
    assert scales["percentile"] <= scales["minmax"], scales
    assert len({round(v, 7) for v in scales.values()}) == 3, scales


def test_excluded_onnx_node_stays_float(fp32, tmp_path):
    calib = CalibrationSet(np.random.default_rng(2).standard_normal((10, 1, 8, 8)).astype(np.float32),
                           np.arange(10), "k")
    layers = onnx_format.layers(fp32, None, tmp_path)
    assert len(layers) == 2  # the conv and the linear layer
    name = onnx_format.quantize(fp32, None, None, calib, tmp_path, QuantizeConfig(), [layers[0]], "q")
    assert onnx_format.float_layers(tmp_path / name) == [layers[0]]


def test_all_sampling_takes_every_sample():
    assert list(sample_indices(np.array([0, 1, 1, 2]), 2, "all", 0)) == [0, 1, 2, 3]
