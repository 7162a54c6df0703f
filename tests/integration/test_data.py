import gzip

import numpy as np
import pytest

from edgeship.pipeline.config.recipe import DataConfig
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.data.loaders import eval_loader, iterate
from edgeship.pipeline.data.transforms import preprocess
from tests.support.requirements import missing


def test_digits_splits_are_disjoint_stratified_and_preprocessed():
    data = load_dataset(DataConfig(source="digits", mean=[0.5], std=[0.25]))
    assert data.num_classes == 10 and data.labels[3] == "3"
    total = len(data.train) + len(data.val) + len(data.test)
    assert total == 1797
    assert abs(len(data.test) / total - 0.2) < 0.01
    # every class is in every split, and no image is in two
    for split in (data.train, data.val, data.test):
        assert set(np.unique(split.labels)) == set(range(10))
    rows = [set(split.rows.tolist()) for split in (data.train, data.val, data.test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    x = data.test.subset(np.arange(4)).inputs()
    assert x.dtype == np.float32 and x.shape == (4, 1, 8, 8)
    assert x.min() == pytest.approx((0 - 0.5) / 0.25)
    pre = data.preprocessing
    assert (pre["size"], pre["channels"], pre["scale"], pre["mean"], pre["std"]) == ([8, 8], 1, 1 / 255, [0.5], [0.25])
    assert pre["resize_mode"] == "exact" and pre["crop"] == [8, 8]


def test_dataset_key_changes_with_split_and_is_stable():
    a = load_dataset(DataConfig(source="digits"))
    b = load_dataset(DataConfig(source="digits"))
    c = load_dataset(DataConfig(source="digits", split={"seed": 1}))
    assert a.key == b.key != c.key


def test_resize_and_channels():
    data = load_dataset(DataConfig(source="digits", image_size=16, channels=3, mean=[0.5], std=[0.5]))
    assert data.train.images(batch_size=64).shape[1:] == (3, 16, 16)
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
    assert len(data.test) == 50 and len(data.train) + len(data.val) == 200
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
    assert data.test.images().shape == (12, 3, 8, 8)


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

    from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR

    if not (Path(DEFAULT_FASHION_DIR) / "train-images-idx3-ubyte.gz").is_file():
        missing("dataset-fashion-mnist is not installed (.ci/run installs it)")
    data = load_dataset(DataConfig(source=f"fashion-mnist:{DEFAULT_FASHION_DIR}", image_size=28))
    assert len(data.train) + len(data.val) == 60000 and len(data.test) == 10000
    assert data.test.subset(np.arange(3)).images().shape == (3, 1, 28, 28)
    assert np.bincount(data.test.labels).tolist() == [1000] * 10


def _write_sized_tree(root, sizes, per_class=4, classes=("cat", "dog")):
    """Images of different sizes and aspect ratios, as real folders have."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                w, h = sizes[i % len(sizes)]
                Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.png")


def test_imagefolder_streams_files_and_crops_large_images(tmp_path):
    from edgeship.pipeline.data.splits import FileSplit

    _write_sized_tree(tmp_path, [(120, 80), (80, 130), (96, 96)])
    data = load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=64, channels=3, mean=[0.5],
                                   std=[0.5], workers=0))
    assert isinstance(data.train, FileSplit) and "decoded on the fly" in data.describe()
    pre = data.preprocessing
    assert pre["resize_mode"] == "shorter-side" and pre["resize"] == 73 and pre["crop"] == [64, 64]
    images = data.test.images()
    assert images.dtype == np.uint8 and images.shape == (8, 3, 64, 64)
    # the evaluation transform is deterministic; training crops are random
    np.testing.assert_array_equal(images, data.test.images())
    crops = data.train.for_training(True, True, False)
    first = [crops[0][0] for _ in range(4)]
    assert first[0].shape == (3, 64, 64) and any(not (f == first[0]).all() for f in first[1:])


def test_evaluation_batches_shrink_as_images_grow(tmp_path):
    """256 small images a batch, a bounded input size for large ones; any batch size gives the same outputs."""
    from edgeship.pipeline.data.loaders import eval_batch_size
    from edgeship.pipeline.models.zoo import build_model
    from edgeship.pipeline.training.loop import evaluate

    assert eval_batch_size(load_dataset(DataConfig(source="digits")).test) == 256
    assert eval_batch_size(type("S", (), {"pre": {"channels": 3, "size": [224, 224]}})()) == 13
    assert eval_batch_size(type("S", (), {"pre": {"channels": 3, "size": [2048, 2048]}})()) == 8
    _write_sized_tree(tmp_path, [(120, 80), (96, 96)])
    data = load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=160, channels=3, mean=[0.5],
                                   std=[0.5], workers=0))
    assert eval_batch_size(data.test) == 27
    model = build_model("simple_cnn", data.num_classes, 3, 160, {"width": 4}).eval()
    assert evaluate(model, data.test) == evaluate(model, data.test, batch_size=1)


def test_in_memory_imagefolder_equals_streaming(tmp_path):
    _write_sized_tree(tmp_path, [(120, 80), (96, 96)])
    common = dict(source=f"imagefolder:{tmp_path}", image_size=64, channels=3, mean=[0.5], std=[0.5], workers=0)
    streamed, in_memory = load_dataset(DataConfig(**common)), load_dataset(DataConfig(**common, in_memory=True))
    assert "in memory" in in_memory.describe() and streamed.key != in_memory.key
    np.testing.assert_array_equal(streamed.test.images(), in_memory.test.images())
    np.testing.assert_array_equal(streamed.train.labels, in_memory.train.labels)


def test_limit_val_and_test_keep_every_class(tmp_path):
    data = load_dataset(DataConfig(source="digits", limit_val=20, limit_test=30))
    assert len(data.val) == 20 and len(data.test) == 30
    assert np.bincount(data.test.labels).tolist() == [3] * 10
    assert set(data.val.labels.tolist()) == set(range(10))


def test_unreadable_files_are_skipped_with_a_count_when_asked(tmp_path):
    _write_tree(tmp_path, ["a", "b"], 3)
    (tmp_path / "train" / "a" / "broken.png").write_bytes(b"not a png")
    data = load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=8, skip_unreadable=True))
    assert data.skipped == 1 and "1 unreadable files skipped" in data.describe()
    assert len(data.train) + len(data.val) == 6


def test_truncated_image_inside_an_epoch_names_the_file(tmp_path):
    _write_tree(tmp_path, ["a", "b"], 3, size=40)
    victim = tmp_path / "val" / "b" / "1.png"
    victim.write_bytes(victim.read_bytes()[:60])  # the header reads, the pixels do not
    data = load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=8, workers=1))
    with pytest.raises(EdgeshipError, match=r"^data.source: cannot read image .*1.png"):
        list(iterate(eval_loader(data.test, batch_size=2, workers=1)))


def test_folder_with_no_images_is_one_line(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "train" / "a" / "notes.txt").write_text("no images here")
    with pytest.raises(EdgeshipError, match="data.source") as err:
        load_dataset(DataConfig(source=f"imagefolder:{tmp_path}", image_size=8))
    assert "\n" not in str(err.value)


def test_device_eval_set_is_uint8_and_the_agent_normalizes_like_the_host(tmp_path):
    from edgeship.targets.agent import load_eval_set

    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    split = data.test.sample(50)
    pre = data.preprocessing
    path = tmp_path / "eval.npz"
    np.savez(path, images=split.images(), labels=split.labels, scale=np.float32(pre["scale"]),
             mean=np.asarray(pre["mean"], np.float32), std=np.asarray(pre["std"], np.float32))
    inputs, labels, metric = load_eval_set(str(path))
    assert metric == "top1"  # the file does not name one: one label per image
    assert inputs.images.dtype == np.uint8 and len(inputs) == 50  # normalized a slice at a time, never all at once
    np.testing.assert_allclose(inputs[0:len(inputs)], split.inputs(), atol=1e-6)
    np.testing.assert_allclose(inputs[3:4], split.inputs()[3:4], atol=1e-6)
    np.testing.assert_array_equal(labels, split.labels)


def test_evaluating_leaves_the_global_random_state_alone():
    # a DataLoader draws its workers' base seed from torch's global generator: an evaluation between two training
    # epochs shifted every later dropout mask, so adaptive KD (which evaluates more) trained another run
    import torch

    from edgeship.pipeline.training.loop import accuracy

    data = load_dataset(DataConfig(source="digits"))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(64, 10))
    torch.manual_seed(0)
    untouched = torch.rand(3)
    torch.manual_seed(0)
    for _ in iterate(eval_loader(data.val)):
        pass
    assert accuracy(model, data.val) >= 0.0
    assert torch.equal(torch.rand(3), untouched)
