"""Detection datasets on disk: COCO, YOLO and Pascal VOC layouts written from one set of pictures load to the
same boxes; crowd and difficult boxes are ignored, not missed; a detector trains from the files."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig
from edgeship.pipeline.data.box_layouts import label_path
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.tasks.detection import DETECTION, coco_map
from edgeship.pipeline.training.loop import train
from tests.support.box_layouts import NAMES, pictures, write_coco, write_vocdet, write_yolo


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("boxes")
    items = pictures()
    return items, {"coco": f"coco:{write_coco(root / 'coco', items, crowd={'train_0001'})}",
                   "yolo": f"yolo:{write_yolo(root / 'yolo', items)}",
                   "vocdet": f"vocdet:{write_vocdet(root / 'voc', items, difficult={'train_0001'})}"}


def load(source: str, size: int = 64, **data):
    return load_dataset(DataConfig(source=source, image_size=size, channels=3, mean=[0.2] * 3, std=[0.3] * 3,
                                   split={"val": 0.25}, **data))


def native_boxes(data) -> dict[str, np.ndarray]:
    """Every picture's boxes at its own pixels by file stem, classes as names."""
    out = {}
    for split in (data.train, data.val, data.test):
        for row in split.rows:
            boxes = split.boxes[int(row)]
            stem = split.paths[int(row)].rsplit("/", 1)[-1].rsplit(".", 1)[0]
            named = [(data.labels[int(b[0])], *np.round(b[1:5], 3)) for b in boxes]
            out[stem] = sorted(named)
    return out


def test_coco_yolo_and_voc_layouts_of_one_set_load_the_same_pictures_to_the_same_boxes(layouts):
    items, sources = layouts
    loaded = {name: load(source) for name, source in sources.items()}
    expected = {p.stem: sorted((NAMES[int(b[0])], *np.round(b[1:5], 3)) for b in p.boxes) for p in items}
    for name, data in loaded.items():
        assert len(data.test) == sum(p.part == "val" for p in items), name  # val2017 / val is the test part
        got = native_boxes(data)
        assert got.keys() == expected.keys(), name
        for stem in expected:
            assert len(got[stem]) == len(expected[stem]), (name, stem)
            for a, b in zip(got[stem], expected[stem]):
                assert a[0] == b[0] and np.allclose(a[1:], b[1:], atol=2e-3), (name, stem, a, b)
    assert loaded["coco"].labels == NAMES  # COCO's non-contiguous ids mapped in id order, named


def test_model_sized_boxes_scale_with_the_picture_and_the_ignore_flag_travels(layouts):
    items, sources = layouts
    data = load(sources["coco"], size=32)
    images, targets = data.test.arrays()
    assert images.shape[1:] == (3, 32, 32) and images.dtype == np.uint8
    by_stem = {p.stem: p for p in items}
    for n, row in enumerate(data.test.rows):
        picture = by_stem[data.test.paths[int(row)].rsplit("/", 1)[-1][:-4]]
        height, width = picture.image.shape[:2]
        scaled = picture.boxes[:, 1:5] * np.array([32 / width, 32 / height] * 2)
        got = targets[n]
        assert got.shape[1] == 6 and np.allclose(np.sort(got[:, 1:5], 0), np.sort(scaled, 0), atol=1e-3)
    crowd = load(sources["coco"])
    flags = {crowd.train.paths[int(r)][-14:-4]: crowd.train.boxes[int(r)][:, 5] for r in crowd.train.rows}
    flags.update({crowd.val.paths[int(r)][-14:-4]: crowd.val.boxes[int(r)][:, 5] for r in crowd.val.rows})
    assert (flags["train_0001"] == 1).all() and (flags["train_0002"] == 0).all()


def test_a_box_marked_ignore_is_neither_missed_nor_a_false_positive():
    truth = [np.array([[0, 2, 2, 12, 12, 0], [1, 30, 30, 50, 50, 1]], np.float32)]
    found_one = [np.array([[2, 2, 12, 12, 0.9, 0]], np.float32)]
    found_both = [np.array([[2, 2, 12, 12, 0.9, 0], [30, 30, 50, 50, 0.8, 1]], np.float32)]
    assert coco_map(truth, found_one, 2, 64)["map"] == pytest.approx(100.0)
    assert coco_map(truth, found_both, 2, 64)["map"] == pytest.approx(100.0)


def test_yolo_labels_mirror_the_images_folder():
    assert str(label_path(__import__("pathlib").Path("/d/images/train/a/b.jpg"))) == "/d/labels/train/a/b.txt"


def test_a_detector_trains_from_files_with_box_aware_augmentation(layouts):
    _, sources = layouts
    data = load(sources["yolo"])
    augmented = data.train.for_training(augment=True, hflip=True, trivial_augment=False)
    torch.manual_seed(0)
    image, boxes, _ = augmented[0]
    assert image.shape == (3, 64, 64) and boxes.shape[1] == 6
    assert (boxes[:, 1:5] >= 0).all() and (boxes[:, 3:5] <= 64).all() and (boxes[:, 3] > boxes[:, 1]).all()
    model = build_model("fcos_tiny", data.num_classes, 3, 64, {"width": 4})
    history = train(model, data.train, data.val, TrainConfig(epochs=2, batch_size=8, lr=0.002, optimizer="adam",
                                                            augment=True), seed=0, task=DETECTION)
    losses = [epoch["loss"] for epoch in history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
