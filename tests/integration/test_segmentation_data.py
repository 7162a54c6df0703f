"""Segmentation data: built-in scenes (deterministic, masks true to the pixels, test scenes from held-out items),
segfolder and Pascal VOC layouts read from real files, joint transforms that keep masks on their images, and the
models that take them (UNet, torchvision's segmentation models) exported with parity on every runtime."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.data.mask_splits import MaskFileSplit
from edgeship.pipeline.data.transforms import joint_train_transform, make_preprocessing
from edgeship.pipeline.models.zoo import build_model
from tests.support.segfolders import segfolder, voc

SCENES = dict(source="scenes", image_size=24, mean=[0.2], std=[0.3], scenes={"count": 100})


def test_scenes_are_deterministic_and_masks_match_the_pixels():
    a, b = load_dataset(DataConfig(**SCENES)), load_dataset(DataConfig(**SCENES))
    images, masks = a.train.arrays()
    again, again_masks = b.train.arrays()
    assert np.array_equal(images, again) and np.array_equal(masks, again_masks) and a.key == b.key
    other = load_dataset(DataConfig(**{**SCENES, "split": {"seed": 1}}))
    assert not np.array_equal(other.train.arrays()[1][:10], masks[:10])
    assert a.labels[0] == "background" and len(a.labels) == 11
    assert masks.dtype == np.uint8 and masks.shape == (len(a.train), 24, 24) and set(np.unique(masks)) > {0, 1}
    # item pixels are bright, background pixels are the canvas' dim noise
    assert images[:, 0][masks > 0].mean() > 150 and images[:, 0][masks == 0].mean() < 40
    assert len(a.test) == 20 and len(a.train) + len(a.val) == 80


def test_joint_training_transform_moves_the_mask_with_the_image():
    pre = make_preprocessing(16, 1, [0.5], [0.5], dense=True)
    transform = joint_train_transform(pre, augment=True, hflip=True)
    image = torch.zeros(1, 32, 32, dtype=torch.uint8)
    image[:, :, :8] = 255
    mask = (image[0] > 0).to(torch.uint8) * 3
    for seed in range(10):
        torch.manual_seed(seed)
        out_image, out_mask = transform(image, mask)
        assert out_image.shape == (1, 16, 16) and out_mask.shape == (16, 16)
        assert set(out_mask.unique().tolist()) <= {0, 3}  # nearest for masks: no blended class values
        bright = out_image[0] > 200
        assert (out_mask[bright] == 3).all() and (out_mask[out_image[0] < 50] == 0).all()


def test_segfolder_streams_files_and_keeps_classes(tmp_path):
    root = segfolder(tmp_path / "seg", count=30)
    data = load_dataset(DataConfig(source=f"segfolder:{root}", image_size=16, mean=[0.2], std=[0.3]))
    assert isinstance(data.train, MaskFileSplit) and data.labels[:2] == ["background", "0"]
    images, masks = data.test.arrays()
    assert images.shape[1:] == (1, 16, 16) and masks.shape[1:] == (16, 16)
    kept = load_dataset(DataConfig(source=f"segfolder:{root}", image_size=16, in_memory=True))
    assert not getattr(kept.train, "decodes_files", False)
    assert np.array_equal(kept.test.arrays()[1], load_dataset(DataConfig(source=f"segfolder:{root}",
                                                                         image_size=16)).test.arrays()[1])


def test_segfolder_with_train_and_val_and_no_classes_file(tmp_path):
    root = segfolder(tmp_path / "seg", count=20, split_dirs=True, classes=False)
    data = load_dataset(DataConfig(source=f"segfolder:{root}", image_size=16, channels=3, mean=[0.2], std=[0.3]))
    assert len(data.test) == 10 and len(data.train) + len(data.val) == 20
    assert data.labels[0] == "class0" and len(data.labels) >= 2
    assert data.test.arrays()[0].shape[1] == 3


def test_pascal_voc_layout_reads_palette_indices_and_ignore(tmp_path):
    root = voc(tmp_path / "VOC2012", count=30)
    data = load_dataset(DataConfig(source=f"voc:{root}", image_size=24, channels=3, mean=[0.2], std=[0.3]))
    assert len(data.labels) == 21 and data.labels[15] == "person"
    assert len(data.test) == 10
    _, masks = data.test.arrays()
    assert (masks[:, 0, :] == 255).all()  # the ignore border survives as 255
    assert masks[masks != 255].max() <= 10


def test_a_unet_prunes_through_its_skip_connections():
    """Torch-Pruning follows the concatenated skips: fewer MACs, the same output shape, the classes kept."""
    from edgeship.pipeline.models.zoo import count_macs_params
    from edgeship.pipeline.stages.prune import prune_channels

    model = build_model("unet", 11, 1, 24, {"width": 8, "depth": 2}).eval()
    example = torch.zeros(1, 1, 24, 24)
    before, _ = count_macs_params(model, example)
    prune_channels(model, example, 0.25, 11)
    after, _ = count_macs_params(model, example)
    assert after < 0.7 * before and model.eval()(torch.rand(2, 1, 24, 24)).shape == (2, 11, 24, 24)


@pytest.mark.parametrize("arch,args", [("unet", {"width": 4, "depth": 2}), ("lraspp_mobilenet_v3_large", {})])
def test_segmentation_models_export_with_pixel_parity(arch, args, tmp_path):
    """One tensor out at the input's size; ONNX and OpenVINO agree with torch per pixel (eval mode: a model
    exported in train mode updates its BatchNorm statistics while being traced and no longer matches)."""
    from edgeship.pipeline.core.contracts.formats import format_named
    from edgeship.pipeline.formats.parity import check_parity

    model = build_model(arch, 5, 1, 32, args).eval()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert model(x).shape == (4, 5, 32, 32)
    for fmt in ("onnx", "openvino"):
        folder = tmp_path / fmt
        folder.mkdir()
        name = format_named(fmt).export(model, x[:1], folder, 17)
        parity = check_parity(model, fmt, folder / name, x.numpy())
        assert parity["agreement"] == 100.0 and parity["max_abs_diff"] < 1e-4, (fmt, parity)
