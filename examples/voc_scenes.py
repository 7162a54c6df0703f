#!/usr/bin/env python3
"""Writes the built-in photo scenes in the Pascal VOC layout, the way a team's own VOC-style dataset comes: RGB
JPEGs of varying, non-square sizes, palette PNG masks whose index is the class, a 255 ("void") band along every
item's border, ImageSets/Segmentation/{train,val}.txt. Nothing is downloaded: the items are Fashion-MNIST's (Debian's
dataset-fashion-mnist; scikit-learn's digits where it is missing), the backgrounds the photographs of
pipeline/data/photo_backgrounds.py, and val.txt lists scenes of held-out items on the photographs' held-out parts.

    python examples/voc_scenes.py runs/voc-scenes && edgeship optimize examples/voc-scenes.yaml
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from edgeship.pipeline.data.photo_backgrounds import photo_backgrounds
from edgeship.pipeline.data.scenes import compose_scenes, held_out_items
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR, digits_arrays, fashion_arrays

CANVAS = 96                 # scenes are composed square, then resized to a size of their own
WIDTHS, HEIGHTS = (72, 128), (56, 112)


def items() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if (Path(DEFAULT_FASHION_DIR) / "train-images-idx3-ubyte.gz").is_file():
        x, y, _, x_test, y_test = fashion_arrays(Path(DEFAULT_FASHION_DIR))
        return x, y, x_test, y_test
    x, y, _, _, _ = digits_arrays()
    train, test = held_out_items(y, 0.2, 0)
    return x[train], y[train], x[test], y[test]


def void_borders(mask: np.ndarray) -> np.ndarray:
    """VOC marks the pixels where two labels meet 'void' (255): the metric and the loss skip them."""
    out = mask.copy()
    edge = np.zeros(mask.shape, dtype=bool)
    edge[1:, :] |= mask[1:, :] != mask[:-1, :]
    edge[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    out[edge] = 255
    return out


def write_split(root: Path, stems: list[str], images: np.ndarray, masks: np.ndarray, rng) -> None:
    palette = [v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)]
    for stem, image, mask in zip(stems, images, masks):
        size = (int(rng.integers(*WIDTHS)), int(rng.integers(*HEIGHTS)))
        picture = Image.fromarray(image.transpose(1, 2, 0)).resize(size, Image.BILINEAR)
        picture.save(root / "JPEGImages" / f"{stem}.jpg", quality=90)
        labelled = Image.fromarray(void_borders(np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))),
                                   mode="P")
        labelled.putpalette(palette)
        labelled.save(root / "SegmentationClass" / f"{stem}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the dataset folder to write (JPEGImages/, SegmentationClass/, ImageSets/)")
    parser.add_argument("--train", type=int, default=900, help="scenes listed in train.txt")
    parser.add_argument("--val", type=int, default=200, help="scenes listed in val.txt (held-out items)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.out)
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    x, y, x_test, y_test = items()
    rng = np.random.default_rng(args.seed)
    for name, count, xs, ys, test in (("train", args.train, x, y, False), ("val", args.val, x_test, y_test, True)):
        seed = args.seed + (1 if test else 0)
        backgrounds = photo_backgrounds(count, CANVAS, seed, test=test)
        images, masks = compose_scenes(xs, ys, count, CANVAS, 1, 3, seed, backgrounds)
        stems = [f"{name}_{i:05d}" for i in range(count)]
        write_split(root, stems, images, masks, rng)
        (root / "ImageSets" / "Segmentation" / f"{name}.txt").write_text("\n".join(stems) + "\n")
    print(f"{root}: {args.train} train and {args.val} val scenes in the Pascal VOC layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
