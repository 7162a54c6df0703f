import numpy as np

from edgeship.calibration.adapters import nncf_dataset, onnxruntime_reader
from edgeship.calibration.calibration_set import CalibrationSet, build_calibration_set, sample_indices


def test_stratified_sampling_draws_evenly_across_classes():
    labels = np.repeat(np.arange(10), [50, 40, 30, 60, 70, 55, 45, 35, 65, 50])
    idx = sample_indices(labels, 300, "stratified", seed=0)
    assert len(idx) == len(set(idx)) == 300
    assert set(np.bincount(labels[idx])) == {30}


def test_stratified_sampling_fills_up_from_larger_classes():
    labels = np.array([0] * 5 + [1] * 100)
    counts = np.bincount(labels[sample_indices(labels, 40, "stratified", seed=0)])
    assert list(counts) == [5, 35]


def test_sampling_is_deterministic_and_keyed(tmp_path):
    x = np.random.default_rng(0).standard_normal((200, 1, 4, 4)).astype(np.float32)
    y = np.arange(200) % 4
    a = build_calibration_set(x, y, "data1", 40, "stratified", 0)
    b = build_calibration_set(x, y, "data1", 40, "stratified", 0)
    c = build_calibration_set(x, y, "data1", 40, "random", 0)
    assert a.key == b.key != c.key
    np.testing.assert_array_equal(a.indices, b.indices)
    loaded = CalibrationSet.load(a.save(tmp_path))
    assert loaded.key == a.key
    np.testing.assert_array_equal(loaded.inputs, a.inputs)


def test_adapters_feed_identical_samples():
    x = np.random.default_rng(1).standard_normal((7, 1, 4, 4)).astype(np.float32)
    calib = CalibrationSet(x, np.arange(7), "k")
    reader = onnxruntime_reader(calib, "input")
    from_ort = []
    while (batch := reader.get_next()) is not None:
        from_ort.append(batch["input"])
    from_nncf = list(nncf_dataset(calib).get_inference_data())
    assert len(from_ort) == len(from_nncf) == 7
    for a, b, ref in zip(from_ort, from_nncf, x):
        np.testing.assert_array_equal(a, ref[None])
        np.testing.assert_array_equal(b, ref[None])
