import gzip

import numpy as np
import pytest

from pipeline.config.recipe import DataConfig
from pipeline.core.errors import EdgeshipError
from pipeline.data.datasets import load_dataset, preprocess
from tests.support.requirements import missing


def test_digits_splits_are_disjoint_stratified_and_preprocessed():
    data = load_dataset(DataConfig(source="digits", mean=[0.5], std=[0.25]))
    assert data.num_classes == 10 and data.labels[3] == "3"
    total = len(data.x_train) + len(data.x_val) + len(data.x_test)
    assert total == 1797
    assert abs(len(data.x_test) / total - 0.2) < 0.01
    # every class is in every split
    for y in (data.y_train, data.y_val, data.y_test):
        assert set(np.unique(y)) == set(range(10))
    x = data.inputs(data.x_test[:4])
    assert x.dtype == np.float32 and x.shape == (4, 1, 8, 8)
    assert x.min() == pytest.approx((0 - 0.5) / 0.25)
    assert data.preprocessing == {"size": [8, 8], "channels": 1, "layout": "NCHW", "scale": 1 / 255,
                                  "mean": [0.5], "std": [0.25]}


def test_dataset_key_changes_with_split_and_is_stable():
    a = load_dataset(DataConfig(source="digits"))
    b = load_dataset(DataConfig(source="digits"))
    c = load_dataset(DataConfig(source="digits", split={"seed": 1}))
    assert a.key == b.key != c.key


def test_resize_and_channels():
    data = load_dataset(DataConfig(source="digits", image_size=16, channels=3, mean=[0.5], std=[0.5]))
    assert data.x_train.shape[1:] == (3, 16, 16)
    assert data.preprocessing["mean"] == [0.5, 0.5, 0.5]


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 50)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    data = load_dataset(DataConfig(source=f"fashion-mnist:{tmp_path}", image_size=28))
    assert len(data.x_test) == 50 and len(data.x_train) + len(data.x_val) == 200
    assert data.labels[9] == "Ankle boot"


def test_fashion_mnist_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EdgeshipError, match="not found.*dataset-fashion-mnist"):
        load_dataset(DataConfig(source=f"fashion-mnist:{tmp_path / 'nope'}"))


def _write_tree(root, classes, per_class, size=12):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in classes:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_imagefolder_reads_train_and_val(tmp_path):
    _write_tree(tmp_path, ["cat", "dog"], 6)
    data = load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=8, channels=3,
                                   mean=[0.5], std=[0.5]))
    assert data.labels == ["cat", "dog"]
    assert data.x_test.shape == (12, 3, 8, 8)


def test_imagefolder_corrupt_image_names_the_file(tmp_path):
    _write_tree(tmp_path, ["a", "b"], 2)
    (tmp_path / "train" / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(EdgeshipError, match="broken.png"):
        load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=8))


def test_imagefolder_without_train_folder(tmp_path):
    with pytest.raises(EdgeshipError, match="train"):
        load_dataset(DataConfig(source=f"imagefolder:{tmp_path}"))


def test_preprocess_matches_formula():
    x = np.array([[[[0, 255]]]], dtype=np.uint8)
    out = preprocess(x, {"scale": 1 / 255, "mean": [0.5], "std": [0.5]})
    np.testing.assert_allclose(out, [[[[-1.0, 1.0]]]])


def test_real_fashion_mnist_when_installed():
    from pathlib import Path

    from pipeline.data.datasets import DEFAULT_FASHION_DIR

    if not (Path(DEFAULT_FASHION_DIR) / "train-images-idx3-ubyte.gz").is_file():
        missing("dataset-fashion-mnist is not installed (.ci/run installs it)")
    data = load_dataset(DataConfig(source=f"fashion-mnist:{DEFAULT_FASHION_DIR}", image_size=28))
    assert len(data.x_train) + len(data.x_val) == 60000 and len(data.x_test) == 10000
    assert data.x_test.shape[1:] == (1, 28, 28) and np.bincount(data.y_test).tolist() == [1000] * 10
