"""The accuracy budget: a fragile model (one channel scaled x1000, the next layer scaled back: the same
function in float, an activation outlier in int8) falls over the budget, the sensitivity analysis finds the
culprit layers, and keeping them in float brings every backend back within budget."""
import pytest
import torch
from torch import nn

from edgeship.calibration.calibration_set import build_calibration_set
from edgeship.pipeline.config.recipe import DataConfig, QuantizeConfig, TrainConfig
from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.formats.int8_budget import accuracy_of, quantize_within_budget
from edgeship.pipeline.training.loop import accuracy, train

pytestmark = pytest.mark.slow  # a quantize and an evaluation per layer tried (about 12 s); make test runs them


def _net():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


@pytest.fixture(scope="module")
def fragile():
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    x, xv, yv = data.train.inputs(), data.val.inputs(), data.val.labels
    torch.manual_seed(0)
    model = _net()
    train(model, data.train, data.val, TrainConfig(epochs=15, lr=0.01, optimizer="adam"), seed=0)
    healthy = accuracy(model, data.val)
    with torch.no_grad():  # ReLU is positively homogeneous: scaling channel 0 up and its consumer down is exact
        model[0].weight[0] *= 1000.0
        model[0].bias[0] *= 1000.0
        model[2].weight[:, 0] /= 1000.0
    assert accuracy(model, data.val) == pytest.approx(healthy, abs=0.8)
    calib = build_calibration_set(x, data.train.labels, data.key, 100, "stratified", 0)
    return model.eval(), calib, xv, yv, healthy


@pytest.mark.parametrize("fmt,ranking", [("onnx", "error"), ("openvino", "error"), ("tflite", "error"),
                                         ("onnx", "sensitivity")])
def test_fallback_keeps_sensitive_layers_float_and_meets_the_budget(fragile, fmt, ranking, tmp_path):
    model, calib, xv, yv, healthy = fragile
    backend = format_named(fmt)
    example = torch.zeros(1, 1, 8, 8)
    fp32 = tmp_path / backend.export(model, example, tmp_path, 17)
    qcfg = QuantizeConfig(max_accuracy_drop=1.0, max_float_layers=3, ranking=ranking)

    no_fallback = quantize_within_budget(backend, fmt, fp32, model, example, calib, tmp_path / "plain",
                                         qcfg.model_copy(update={"fallback": False}), xv, yv) \
        if (tmp_path / "plain").mkdir() is None else None
    assert not no_fallback.within_budget and no_fallback.drop > 5.0  # the outlier ruins plain int8

    out = tmp_path / "budget"
    out.mkdir()
    outcome = quantize_within_budget(backend, fmt, fp32, model, example, calib, out, qcfg, xv, yv)
    assert outcome.within_budget, outcome
    assert 1 <= len(outcome.float_layers) <= 3
    assert len(outcome.sensitivity) == len(backend.layers(fp32, model, out)) == 3
    assert outcome.ranking == ranking and 1 <= len(outcome.tried) <= 3 and not outcome.timed_out
    if ranking == "error":  # the layer reading the outlier channel does the harm; one forward pass per layer
        assert [e["module"] for e in outcome.sensitivity][0] == "2", outcome.sensitivity
        assert outcome.sensitivity[0]["sqnr_db"] < outcome.sensitivity[-1]["sqnr_db"]
        assert len(outcome.tried) <= 2  # the two culprits first: the third layer is never tried
    else:
        assert outcome.sensitivity[0]["drop_alone"] >= outcome.sensitivity[-1]["drop_alone"]
    final = out / outcome.file
    assert outcome.file.startswith("model-int8.") and not list(out.glob("*-try*"))  # the search's tries are gone
    assert backend.quantized_ops(final)  # still an int8 model
    assert len(backend.float_layers(final)) == len(outcome.float_layers)  # the graph really keeps them float
    assert accuracy_of(fmt, final, xv, yv) == pytest.approx(outcome.int8_accuracy)
    assert not (out / "trials").exists()


def test_a_search_out_of_time_keeps_its_best_file_and_says_so(fragile, tmp_path):
    model, calib, xv, yv, _ = fragile
    backend = format_named("onnx")
    example = torch.zeros(1, 1, 8, 8)
    fp32 = tmp_path / backend.export(model, example, tmp_path, 17)
    out = tmp_path / "budget"
    out.mkdir()
    qcfg = QuantizeConfig(max_accuracy_drop=1.0, max_float_layers=3, max_search_seconds=1e-6)
    outcome = quantize_within_budget(backend, "onnx", fp32, model, example, calib, out, qcfg, xv, yv)
    assert outcome.timed_out and outcome.tried == [] and not outcome.within_budget
    assert (out / outcome.file).is_file() and outcome.float_layers == []
    assert accuracy_of("onnx", out / outcome.file, xv, yv) == pytest.approx(outcome.int8_accuracy)
