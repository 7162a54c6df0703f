"""Report views of the agent's extra measurements: batch sizes, throughput, per-layer profiles. Rows made up
in the shape the agent returns: no runtime."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.results import Report, ShipChoice
from edgeship.pipeline.reporting.profiles import condensed, doctor_view, markdown_lines
from edgeship.pipeline.reporting.views import batch_notes, batch_view, sensitivity_views
from tests.unit.test_results import row


def test_batch_view_shows_each_size_and_says_why_one_is_missing():
    rows = [row("onnx-fp32", "onnx", p50=2.0, batches={"8": {"p50_ms": 8.0, "images_per_s": 1000.0}},
                throughput={"note": "throughput mode: OpenVINO only (not onnx)"}),
            row("tflite-int8", "tflite", "int8", p50=1.0, batches={"8": {"error": "batch 8: XNNPack failed"}}),
            row("pruned")]
    view = batch_view(rows)
    assert view.headers == ["model", "format", "precision", "target", "b1 img/s", "b8 p50 ms", "b8 img/s",
                            "throughput img/s"]
    assert view.rows[0][4:] == ["500", "8.000", "1000", "-"] and view.rows[1][5] == "cannot"
    assert len(view.rows) == 2  # the torch row measured batch 1 only
    assert batch_notes(rows) == ["batch 8: XNNPack failed", "throughput mode: OpenVINO only (not onnx)"]


def _profile(layers):
    return condensed({"source": "onnxruntime 1.32 session profiling", "runs": 5, "total_ms": 1.0,
                      "int8_time_share": 0.7, "layers": layers})


def test_profile_of_a_shipped_int8_file_and_the_export_doctor():
    layers = [{"name": "conv1", "type": "QLinearConv", "kernel": "CPU", "precision": "int8", "ms": 0.7},
              {"name": "head", "type": "Gemm", "kernel": "CPU", "precision": "float", "ms": 0.2},
              {"name": "q", "type": "QuantizeLinear", "kernel": "CPU", "precision": "convert", "ms": 0.1}]
    shipped = row("onnx-int8", "onnx", "int8", profile=_profile(layers))
    kept = shipped.profile
    assert kept["float_layer_names"] == ["head"] and kept["by_type"]["Gemm"]["float"] == 1
    report = Report(recipe="r", results=[shipped], ship={"onnx": ShipChoice("onnx-int8", "fastest")})
    text = "\n".join(markdown_lines(report))
    assert "## Where the time goes: onnx int8 on local" in text and "70% of the time in int8 kernels" in text
    doctor = doctor_view(report)
    assert [r[1] for r in doctor.rows] == ["Gemm", "QuantizeLinear"]  # the int8 conv is not a finding


def test_distillation_sentence_names_scheme_guard_and_search():
    from edgeship.pipeline.reporting.distillation import distillation_sentence

    old = distillation_sentence({"method": "kd", "teacher_outputs": "cached"})  # a report from before schemes
    assert old.startswith("Distillation: KD, offline (frozen teacher)")
    full = distillation_sentence({
        "method": "at", "teacher_outputs": "cached", "beta": 431.0, "beta_setting": "auto",
        "scheme": {"name": "offline"},
        "weak_teacher": {"teacher_val": 76.5, "epochs": [3, 4], "weight": 0.25},
        "search": {"pick": "at alpha=0 balance=0.25", "trials": 29, "seconds": 412.0, "timed_out": False,
                   "beats_scratch": False}})
    assert "AT, offline" in full and "beta 431 (auto" in full
    assert "passed the teacher's validation 76.50 at epoch 3" in full and "x0.25" in full
    assert "picked by --search (at alpha=0 balance=0.25) from 29 short trials in 412 s" in full
    assert "no candidate beat the scratch student" in full
    self_scheme = distillation_sentence({"method": "kd", "teacher_outputs": "cached", "scheme": {
        "name": "self", "generations": [{"generation": 1, "val_accuracy": 81.0}, {"generation": 2,
                                                                                   "val_accuracy": 82.5}]}})
    assert "born-again" in self_scheme and "2 generation(s), validation 81.00, 82.50" in self_scheme
    online = distillation_sentence({"method": "kd", "teacher_outputs": "online", "scheme": {
        "name": "online", "peers": 2, "peer_arch": "student"}})
    assert "deep mutual learning with 2 peer(s) of the student's architecture" in online


def test_the_sensitivity_table_says_how_many_layers_the_error_ranking_could_not_place():
    ranked = [{"layer": "__module.features.4/aten::_convolution/Convolution", "module": "features.4", "sqnr_db": 12.5},
              {"layer": "Multiply_2852", "module": None, "sqnr_db": None}]
    shipped = row("onnx-int8", "openvino", "int8", int8={"sensitivity": ranked, "tried": [], "search_seconds": 3})
    report = Report(recipe="r", results=[shipped], ship={})
    (_, view), = sensitivity_views(report)
    assert "1 of 2 layers name no torch module" in view.title
    assert [r[1] for r in view.rows] == ["12.50", "-"]
    ranked[1].update(module="features.0", sqnr_db=30.0)
    assert "no torch module" not in sensitivity_views(report)[0][1].title
