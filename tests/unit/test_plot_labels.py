"""report.html's accuracy-latency plot: labels of clustered points never overlap each other or the title."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from edgeship.pipeline.reporting.labels import place_labels  # noqa: E402


def test_clustered_labels_do_not_overlap():
    # the demo's rows: the teacher's three exports and the KD student at one accuracy, microseconds apart
    items = [(1.09, 98.61, "teacher"), (0.052, 98.61, "teacher onnx fp32"), (0.038, 98.61, "teacher tflite fp32"),
             (0.103, 98.61, "teacher openvino fp32"), (0.125, 98.61, "student (KD)"), (0.191, 97.77, "scratch"),
             (0.122, 97.77, "student (KD, pruned)"), (0.008, 97.77, "onnx fp32"), (0.011, 97.77, "onnx int8"),
             (0.003, 97.77, "tflite fp32"), (0.010, 97.49, "tflite int8"), (0.045, 97.77, "openvino fp32"),
             (0.045, 97.77, "openvino int8")]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for x, y, _ in items:
        ax.scatter(x, y, s=46)
    ax.set_xscale("log")
    ax.set_title("local: accuracy vs latency (circle fp32, square int8, red star shipped)", fontsize=9)
    place_labels(ax, items)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the text, not its leader line
    assert sorted(t.get_text() for t in ax.texts) == sorted(text for _, _, text in items)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    assert not any(box.overlaps(ax.title.get_window_extent(renderer)) for box in boxes)
    plt.close(fig)
