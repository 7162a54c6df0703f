"""Plug-ins of the other registries: a data source (tests/plugins/toy_source.py, `csv:PATH`) and a distillation
scheme (tests/plugins/toy_scheme.py, mean teacher), each one file, through the whole flow."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES, SCHEMES, TASKS
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.data.sources import digits_arrays
from tests.support.recipes import tiny_recipe_dict

TOYS = ["tests.plugins.toy_source", "tests.plugins.toy_scheme"]
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(autouse=True)
def toys_leave_no_trace():
    yield
    DATA_SOURCES.unregister("csv")
    SCHEMES.unregister("mean-teacher")
    for module in TOYS:
        sys.modules.pop(module, None)


def write_digits_csv(path, header: bool = True):
    images, labels, _, _, _ = digits_arrays()
    with open(path, "w") as handle:
        if header:
            handle.write("label," + ",".join(f"pixel{i}" for i in range(64)) + "\n")
        for image, label in zip(images, labels):
            handle.write(NAMES[label] + "," + ",".join(str(int(v)) for v in image.reshape(-1)) + "\n")
    return path


def test_the_csv_source_gives_the_images_and_names_it_was_written_with(tmp_path):
    source = f"csv:{write_digits_csv(tmp_path / 'd.csv')}"
    recipe = parse_recipe(tiny_recipe_dict(plugins=TOYS, **{"data.source": source}))
    data = load_dataset(recipe.data)
    images, labels, _, _, _ = digits_arrays()
    assert data.labels == sorted(NAMES)
    assert len(data.train) + len(data.val) + len(data.test) == len(images)
    first = data.test.subset(np.array([0]))
    row = int(first.rows[0])
    assert data.labels[int(first.labels[0])] == NAMES[labels[row]]
    # the same images without a header row: the same data; another file's bytes make a new data key
    plain = f"csv:{write_digits_csv(tmp_path / 'e.csv', header=False)}"
    again = load_dataset(parse_recipe(tiny_recipe_dict(plugins=TOYS, **{"data.source": plain})).data)
    assert again.labels == data.labels and np.array_equal(again.test.images(), data.test.images())
    assert again.key != data.key
    (tmp_path / "bad.csv").write_text("a,1,2,3\n")
    with pytest.raises(EdgeshipError, match="bad.csv: every row must be a label and the pixels of one square"):
        bad = f"csv:{tmp_path / 'bad.csv'}"
        load_dataset(parse_recipe(tiny_recipe_dict(plugins=TOYS, **{"data.source": bad})).data)


def test_a_source_that_gives_other_targets_than_the_task_learns_from_is_refused():
    with pytest.raises(EdgeshipError, match="data.source 'scenes' gives masks, task 'classification' learns from "
                                            "labels"):
        parse_recipe(tiny_recipe_dict(**{"data.source": "scenes"}))
    with pytest.raises(EdgeshipError, match="unknown data source 'csv:x'"):
        parse_recipe(tiny_recipe_dict(**{"data.source": "csv:x"}))  # the plug-in not loaded


def test_a_scheme_checks_the_recipe_it_is_given():
    with pytest.raises(EdgeshipError, match="distill.scheme mean-teacher learns from its own average"):
        parse_recipe(tiny_recipe_dict(plugins=TOYS, **{"distill.scheme": "mean-teacher", "distill.method": "dkd"}))


@pytest.mark.slow
def test_csv_source_and_mean_teacher_scheme_run_through_the_flow(tmp_path):
    from edgeship.pipeline.engine.optimize import optimize

    raw = tiny_recipe_dict(plugins=TOYS, **{"data.source": f"csv:{write_digits_csv(tmp_path / 'digits.csv')}",
                                            "distill.scheme": "mean-teacher", "prune.enabled": False,
                                            "export.formats": ["onnx"], "teacher.train.epochs": 1})
    report = optimize(parse_recipe(raw), tmp_path / "run")
    rows = {(r.stage, r.target): r for r in report.results}
    kd, scratch = rows[("student-kd", "local")], rows[("student-scratch", "local")]
    assert kd.ok and scratch.ok
    assert kd.accuracy > 50 and scratch.accuracy > 50  # 10 classes: chance is 10
    assert report.distillation["scheme"] == {"name": "mean-teacher", "decay": 0.99}
    assert rows[("onnx-fp32", "local")].accuracy > 50 and rows[("onnx-int8", "local")].ok
    assert "mean teacher (an EMA of the student, decay 0.99)" in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.slow
def test_a_variable_number_of_targets_per_image_runs_through_the_flow(tmp_path):
    """digit-sets: 1-4 digits per picture, a set of labels each; trained, exported, quantized and scored on the
    device (the eval set's labels with offsets) with the task's own metric."""
    from edgeship.pipeline.engine.optimize import optimize

    raw = tiny_recipe_dict(plugins=["tests.plugins.toy_label_sets"], task="label-sets",
                           **{"data.source": "digit-sets:3000", "data.image_size": 16, "prune.enabled": False,
                              "export.formats": ["onnx"], "teacher.train.epochs": 20, "student.train.epochs": 20,
                              "student.args": {"width": 16, "depth": 3}})
    try:
        report = optimize(parse_recipe(raw), tmp_path / "run")
    finally:
        DATA_SOURCES.unregister("digit-sets")
        TASKS.unregister("label-sets")
        sys.modules.pop("tests.plugins.toy_label_sets", None)
    rows = {r.stage: r for r in report.results}
    assert report.metric == "exact set %"
    # Guessing the exact set of 1-4 digits out of 10 is right about 1% of the time; seen here (AVX-512 EPYC):
    # teacher 76.0, scratch 85.2, KD 66.7 (softmax KD does not suit a multi-label task), int8 66.7.
    for stage in ("teacher", "student-kd", "student-scratch", "onnx-fp32", "onnx-int8"):
        assert rows[stage].ok and rows[stage].accuracy > 40, (stage, rows[stage].accuracy)
    assert rows["onnx-fp32"].postprocess_ms is not None
    assert abs(rows["onnx-fp32"].accuracy - rows["student-kd"].accuracy) < 1.0
    with np.load(next((tmp_path / "run" / "data").glob("eval-*.npz"))) as eval_set:
        offsets = eval_set["label_offsets"]
        assert offsets[0] == 0 and offsets[-1] == len(eval_set["labels"]) and np.diff(offsets).max() > 1
