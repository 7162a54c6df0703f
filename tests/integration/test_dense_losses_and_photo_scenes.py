"""Scenes on photographs (data.scenes.backgrounds: photo) and the recipe's dense loss, recorded where it trained."""
from __future__ import annotations

import json

import numpy as np

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import DataConfig
from edgeship.pipeline.data.datasets import load_dataset
from tests.support.recipes import tiny_recipe_dict
from tests.support.segfolders import SEGMENTATION_RECIPE


def photo_data(**scenes):
    return load_dataset(DataConfig(source="scenes", image_size=32, channels=3, mean=[0.4], std=[0.3],
                                   scenes={"count": 60, "backgrounds": "photo", **scenes}))


def test_photo_scenes_are_cluttered_rgb_with_items_on_them_and_the_same_for_a_seed():
    data = photo_data()
    images, masks = data.train.arrays()
    test_images, _ = data.test.arrays()
    assert images.shape[1:] == (3, 32, 32) and images.dtype == np.uint8
    background = images.transpose(0, 2, 3, 1)[masks == 0]
    # a photograph, not the dark canvas (noise 0..40): bright, varied, coloured
    assert background.mean() > 60 and background.std() > 30 and np.abs(np.diff(background, axis=1)).mean() > 3
    assert 0.03 < (masks > 0).mean() < 0.5  # items are a minority of the pixels
    again_images, again_masks = photo_data().train.arrays()
    assert np.array_equal(images, again_images) and np.array_equal(masks, again_masks)
    assert not np.array_equal(images[:len(test_images)], test_images)  # test scenes are other draws


def test_a_chosen_dense_loss_trains_and_is_recorded_with_its_class_weights(tmp_path, write_yaml):
    raw = tiny_recipe_dict(**{**SEGMENTATION_RECIPE, "data.source": "scenes", "data.image_size": 16,
                              "data.scenes": {"count": 80}, "loss.kind": "weighted-ce",
                              "teacher.train.epochs": 1, "student.train.epochs": 1, "distill.method": "kd",
                              "distill.unfit_teacher": "distill"})  # a 1-epoch teacher is unfit
    run_dir = tmp_path / "run"
    assert main(["distill", str(write_yaml(raw)), "--run-dir", str(run_dir)]) == 0
    for stage in ("teacher", "student-kd", "student-scratch"):
        meta = json.loads(next((run_dir / "stages").glob(f"{stage}-*/artifact.json")).read_text())
        loss = meta["metrics"]["loss"]
        assert loss["kind"] == "weighted-ce" and len(loss["class_weights"]) == 11
        assert loss["class_weights"][0] < 1.0 < max(loss["class_weights"][1:])  # background is the common class
