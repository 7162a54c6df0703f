"""Segmentation data on disk: `segfolder:PATH` (images/ and masks/ with the same file stems, optional
classes.txt; or train/ and val/ each holding both) and `voc:PATH` (Pascal VOC: JPEGImages/, SegmentationClass/,
ImageSets/Segmentation/{train,val}.txt).

Every pair is checked once at start-up (sizes from the file headers, class indices from the mask pixels), so a
bad file stops the run before any training, with its name.
"""
from __future__ import annotations

from pathlib import Path

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.mask_splits import MaskFileSplit, check_mask_values, read_mask
from edgeship.pipeline.data.splits import file_listing_digest

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VOC_CLASSES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor"]


def _by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise EdgeshipError(f"data.source: {folder} not found")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def _pairs(images_dir: Path, masks_dir: Path) -> list[tuple[Path, Path]]:
    images, masks = _by_stem(images_dir), _by_stem(masks_dir)
    for stem, path in images.items():
        if stem not in masks:
            raise EdgeshipError(f"data.source: image {path} has no mask in {masks_dir} (same file stem)")
    for stem, path in masks.items():
        if stem not in images:
            raise EdgeshipError(f"data.source: mask {path} has no image in {images_dir} (same file stem)")
    if not images:
        raise EdgeshipError(f"data.source: {images_dir} holds no images")
    return [(images[stem], masks[stem]) for stem in sorted(images)]


def _check_pairs(pairs: list[tuple[Path, Path]], num_classes: int | None) -> int:
    """Sizes agree and class indices fit; the largest class index seen (255 = ignore excluded)."""
    from PIL import Image

    largest = 0
    for image, mask_path in pairs:
        try:
            with Image.open(image) as img:
                size = img.size
        except OSError as err:
            raise EdgeshipError(f"data.source: cannot read image {image}: {' '.join(str(err).split())}") from None
        try:
            mask = read_mask(str(mask_path))
        except OSError as err:
            raise EdgeshipError(f"data.source: cannot read mask {mask_path}: {' '.join(str(err).split())}") from None
        if (mask.shape[1], mask.shape[0]) != size:
            raise EdgeshipError(f"data.source: mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image "
                                f"{image} is {size[0]}x{size[1]}")
        if num_classes is not None:
            check_mask_values(mask, num_classes, str(mask_path))
        labelled = mask[mask != 255]
        largest = max(largest, int(labelled.max(initial=0)))
    return largest


def _split_of(pairs, root: Path, num_classes: int, pre: dict) -> tuple[MaskFileSplit, list]:
    split = MaskFileSplit([str(i) for i, _ in pairs], [str(m) for _, m in pairs], pre, num_classes)
    return split, file_listing_digest([str(p) for pair in pairs for p in pair], root)


def _read_classes(root: Path) -> list[str] | None:
    path = root / "classes.txt"
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise EdgeshipError(f"data.source: {path} is empty (one class name per line, class 0 first)")
    return names


def load_segfolder(root: Path, pre: dict):
    """(train-or-all split, test split or None, class names, listing, skipped)."""
    if not root.is_dir():
        raise EdgeshipError(f"data.source: {root} not found")
    classes = _read_classes(root)
    if (root / "train").is_dir():
        groups = [_pairs(root / "train" / "images", root / "train" / "masks")]
        if (root / "val").is_dir():
            groups.append(_pairs(root / "val" / "images", root / "val" / "masks"))
    else:
        groups = [_pairs(root / "images", root / "masks")]
    largest = max(_check_pairs(pairs, len(classes) if classes else None) for pairs in groups)
    classes = classes or [f"class{i}" for i in range(largest + 1)]
    made = [_split_of(pairs, root, len(classes), pre) for pairs in groups]
    listing = [entry for _, digest in made for entry in digest]
    test = made[1][0] if len(made) > 1 else None
    return made[0][0], test, classes, listing, 0


def _voc_list(root: Path, name: str) -> list[tuple[Path, Path]]:
    listing = root / "ImageSets" / "Segmentation" / f"{name}.txt"
    if not listing.is_file():
        raise EdgeshipError(f"data.source: {listing} not found (the Pascal VOC layout)")
    pairs = []
    for stem in (line.strip() for line in listing.read_text().splitlines()):
        if not stem:
            continue
        image, mask = root / "JPEGImages" / f"{stem}.jpg", root / "SegmentationClass" / f"{stem}.png"
        for path, what in ((image, "image"), (mask, "mask")):
            if not path.is_file():
                raise EdgeshipError(f"data.source: {listing} names {stem}, but its {what} {path} is missing")
        pairs.append((image, mask))
    if not pairs:
        raise EdgeshipError(f"data.source: {listing} lists no images")
    return pairs


def load_voc(root: Path, pre: dict):
    if not root.is_dir():
        raise EdgeshipError(f"data.source: {root} not found")
    train_pairs, val_pairs = _voc_list(root, "train"), _voc_list(root, "val")
    for pairs in (train_pairs, val_pairs):
        _check_pairs(pairs, len(VOC_CLASSES))
    (train, a), (test, b) = (_split_of(p, root, len(VOC_CLASSES), pre) for p in (train_pairs, val_pairs))
    return train, test, list(VOC_CLASSES), a + b, 0
