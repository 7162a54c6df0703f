"""Segmentation folders on disk for tests: real PNG/JPEG files in the segfolder and Pascal VOC layouts, made
from the built-in scenes (so a model can learn from them), with ways to break one file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgeship.pipeline.data.scenes import compose_scenes
from edgeship.pipeline.data.segfolders import VOC_CLASSES
from edgeship.pipeline.data.sources import digits_arrays


def scenes(count: int, canvas: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _, _ = digits_arrays()
    return compose_scenes(x, y, count, canvas, 1, 3, seed)


def write_pairs(images_dir: Path, masks_dir: Path, count: int, seed: int = 0, rgb: bool = False) -> None:
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    images, masks = scenes(count, seed=seed)
    for i in range(count):
        picture = Image.fromarray(images[i, 0])
        (picture.convert("RGB") if rgb else picture).save(images_dir / f"scene{i:03d}.png")
        Image.fromarray(masks[i]).save(masks_dir / f"scene{i:03d}.png")


def segfolder(root: Path, count: int = 40, split_dirs: bool = False, classes: bool = True) -> Path:
    """root/images + root/masks (or root/train/... and root/val/...), classes.txt with the 11 scene classes."""
    if split_dirs:
        write_pairs(root / "train" / "images", root / "train" / "masks", count)
        write_pairs(root / "val" / "images", root / "val" / "masks", count // 2, seed=1)
    else:
        write_pairs(root / "images", root / "masks", count)
    if classes:
        (root / "classes.txt").write_text("\n".join(["background", *map(str, range(10))]) + "\n")
    return root


def voc(root: Path, count: int = 30) -> Path:
    """The Pascal VOC layout: JPEG images, palette-PNG masks whose palette index is the class, 255 borders."""
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    images, masks = scenes(count)
    palette = list(np.random.default_rng(0).integers(0, 256, 256 * 3).astype(int))
    stems = [f"2007_{i:06d}" for i in range(count)]
    for stem, image, mask in zip(stems, images, masks):
        Image.fromarray(image[0]).convert("RGB").save(root / "JPEGImages" / f"{stem}.jpg", quality=95)
        labelled = np.minimum(mask, len(VOC_CLASSES) - 1)
        labelled[0, :] = 255  # VOC marks object borders "ignore"
        png = Image.fromarray(labelled.astype(np.uint8), mode="P")
        png.putpalette(palette)
        png.save(root / "SegmentationClass" / f"{stem}.png")
    cut = count * 2 // 3
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(stems[:cut]) + "\n")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(stems[cut:]) + "\n")
    return root


SEGMENTATION_RECIPE = {"task": "segmentation", "teacher.arch": "unet", "teacher.args": {"width": 4, "depth": 1},
                "student.arch": "unet", "student.args": {"width": 4, "depth": 1}}


def broken_segfolder(folder: Path, how: str) -> str:
    """A segfolder with one bad file: a mask of another size, a class above classes.txt, a lone image or mask,
    an RGB mask."""
    root = segfolder(folder / "seg", count=6)
    first = root / "masks" / "scene000.png"
    if how == "size":
        Image.new("L", (10, 12)).save(first)
    elif how == "class":
        Image.new("L", (24, 24), color=42).save(first)
    elif how == "no mask":
        first.unlink()
    elif how == "no image":
        (root / "images" / "scene000.png").unlink()
    elif how == "rgb":
        Image.new("RGB", (24, 24)).save(first)
    return f"segfolder:{root}"
