"""The built-in data sources: digits, Fashion-MNIST IDX files and ImageFolder trees (one label per image); the
scenes, segmentation folders and Pascal VOC (a mask per image). Each registers a DataSource in DATA_SOURCES.

Digits and Fashion-MNIST are small and stay in memory at their native size; an ImageFolder is a list of files
decoded when a loader asks (or, with data.in_memory, decoded once at the exact model size).
"""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from edgeship.pipeline.core.contracts.data_sources import LABELS, MASKS, DataSource, SourceData
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.mask_splits import MaskArraySplit, MaskSplit
from edgeship.pipeline.data.photo_backgrounds import photo_backgrounds
from edgeship.pipeline.data.scenes import compose_scenes, held_out_items
from edgeship.pipeline.data.segfolders import load_segfolder, load_voc
from edgeship.pipeline.data.splits import ArraySplit, FileSplit, Split, file_listing_digest

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEFAULT_FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def digits_arrays():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return images, bunch.target.astype(np.int64), [str(t) for t in bunch.target_names], None, None


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (the MNIST format: big-endian header, then uint8 data), gzip or plain."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise EdgeshipError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise EdgeshipError(f"{path}: truncated IDX file ({data.size} bytes for shape {dims})")
    return data.reshape(dims)


def fashion_arrays(folder: Path):
    if not folder.is_dir():
        raise EdgeshipError(f"data.source: Fashion-MNIST folder not found: {folder} "
                            "(apt-get install dataset-fashion-mnist)")
    arrays = {}
    for split, (images_name, labels_name) in FASHION_FILES.items():
        for name in (images_name, labels_name):
            candidates = [folder / name, folder / name[:-3]]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise EdgeshipError(f"data.source: {folder / name} is missing")
            arrays[name] = read_idx(found)
    x_train = arrays[FASHION_FILES["train"][0]][:, None]
    y_train = arrays[FASHION_FILES["train"][1]].astype(np.int64)
    x_test = arrays[FASHION_FILES["test"][0]][:, None]
    y_test = arrays[FASHION_FILES["test"][1]].astype(np.int64)
    return x_train, y_train, FASHION_LABELS, x_test, y_test


def _scan_tree(folder: Path, skip_unreadable: bool, classes: list[str] | None = None):
    """(paths, labels, classes, skipped) of an ImageFolder tree; each file's header is read (not its pixels), so a
    file that is not an image is found now, not in the middle of an epoch."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder

    try:
        tree = ImageFolder(str(folder), loader=str)
    except (FileNotFoundError, OSError) as err:
        raise EdgeshipError(f"data.source: {folder}: {str(err).splitlines()[0]}") from None
    if classes is not None and tree.classes != classes:
        raise EdgeshipError(f"data.source: {folder} has classes {tree.classes}, the train folder has {classes}")
    paths, labels, skipped = [], [], 0
    for path, label in tree.samples:
        try:
            with Image.open(path):
                pass
        except (UnidentifiedImageError, OSError) as err:
            if not skip_unreadable:
                raise EdgeshipError(f"data.source: cannot read image {path}: {' '.join(str(err).split())} "
                                    "(data.skip_unreadable: true skips such files)") from None
            skipped += 1
            continue
        paths.append(path)
        labels.append(label)
    if not paths:
        raise EdgeshipError(f"data.source: {folder} holds no readable images")
    return paths, np.asarray(labels, dtype=np.int64), tree.classes, skipped


def _decode_all(split: Split) -> Split:
    """data.in_memory: decode every file once, at the model's evaluation size."""
    if isinstance(split, MaskSplit):
        return MaskArraySplit(*split.arrays(), split.pre)
    return ArraySplit(split.images(), split.labels, split.pre, model_sized=True)


def scene_items(items_from: str, cfg):
    """The items built-in canvases are made of (scenes, objects): `digits` or `fashion-mnist[:PATH]`, as (train
    images, labels, class names, test images, labels); digits hold out cfg.split.test of their images for test."""
    kind, _, path = items_from.partition(":")
    if kind == "fashion-mnist":
        return fashion_arrays(Path(path or DEFAULT_FASHION_DIR))
    x, y, names, _, _ = digits_arrays()
    train_items, test_items = held_out_items(y, cfg.split.test, cfg.split.seed)
    return x[train_items], y[train_items], names, x[test_items], y[test_items]


def _load_scenes(cfg, pre: dict):
    """The built-in scenes: items of digits or Fashion-MNIST on a canvas; test scenes from held-out items."""
    x, y, names, x_test, y_test = scene_items(cfg.source.partition(":")[2], cfg)
    s = cfg.scenes
    canvas = s.canvas or cfg.image_size
    n_test = max(1, int(round(s.count * cfg.split.test)))
    # The seeds differ, so train and test scenes are different draws as well as different items.
    photos = s.backgrounds == "photo"
    train_bg = photo_backgrounds(s.count - n_test, canvas, cfg.split.seed, test=False) if photos else None
    test_bg = photo_backgrounds(n_test, canvas, cfg.split.seed + 1, test=True) if photos else None
    train = compose_scenes(x, y, s.count - n_test, canvas, s.min_items, s.max_items, cfg.split.seed, train_bg)
    test = compose_scenes(x_test, y_test, n_test, canvas, s.min_items, s.max_items, cfg.split.seed + 1, test_bg)
    digest = [array_digest(a) for a in (*train, *test)]
    return MaskArraySplit(*train, pre), MaskArraySplit(*test, pre), ["background", *names], digest, 0


def _load_imagefolder(root: Path, cfg, pre: dict):
    if not (root / "train").is_dir():
        raise EdgeshipError(f"data.source: {root / 'train'} not found (imagefolder needs train/ and val/ subfolders)")
    paths, labels, classes, skipped = _scan_tree(root / "train", cfg.skip_unreadable)
    train = FileSplit(paths, labels, pre, skip_unreadable=cfg.skip_unreadable)
    listing = file_listing_digest(paths, root)
    test = None
    if (root / "val").is_dir():
        t_paths, t_labels, _, t_skipped = _scan_tree(root / "val", cfg.skip_unreadable, classes)
        test = FileSplit(t_paths, t_labels, pre, skip_unreadable=cfg.skip_unreadable)
        listing += file_listing_digest(t_paths, root)
        skipped += t_skipped
    if cfg.in_memory:
        train, test = _decode_all(train), (_decode_all(test) if test is not None else None)
    return train, test, classes, listing, skipped


def _in_memory_arrays(x, y, labels, x_test, y_test, pre: dict) -> SourceData:
    digest = [array_digest(a) for a in (x, y, x_test, y_test) if a is not None]
    test = ArraySplit(x_test, y_test, pre) if x_test is not None else None
    return SourceData(ArraySplit(x, y, pre), test, labels, digest)


def _digits(argument: str, cfg, pre: dict) -> SourceData:
    return _in_memory_arrays(*digits_arrays(), pre)


def _fashion(argument: str, cfg, pre: dict) -> SourceData:
    return _in_memory_arrays(*fashion_arrays(Path(argument or DEFAULT_FASHION_DIR)), pre)


def _imagefolder(argument: str, cfg, pre: dict) -> SourceData:
    return SourceData(*_load_imagefolder(Path(argument), cfg, pre))


def _scenes(argument: str, cfg, pre: dict) -> SourceData:
    return SourceData(*_load_scenes(cfg, pre))


def _mask_folders(loader):
    def load(argument: str, cfg, pre: dict) -> SourceData:
        train, test, classes, listing, skipped = loader(Path(argument), pre)
        if cfg.in_memory:
            train, test = _decode_all(train), (_decode_all(test) if test is not None else None)
        return SourceData(train, test, classes, listing, skipped)
    return load


def check_scene_items(argument: str) -> None:
    if argument.split(":")[0] not in ("", "digits", "fashion-mnist"):
        raise ValueError(f"built-in canvases are made of digits or fashion-mnist items, not "
                         f"{argument.split(':')[0]!r}")


for _source in (
        DataSource("digits", LABELS, _digits, "digits"),
        DataSource("fashion-mnist", LABELS, _fashion, "fashion-mnist[:PATH]"),
        DataSource("imagefolder", LABELS, _imagefolder, "imagefolder:PATH", needs_argument=True),
        DataSource("scenes", MASKS, _scenes, "scenes[:digits|:fashion-mnist[:PATH]]", check=check_scene_items),
        DataSource("segfolder", MASKS, _mask_folders(load_segfolder), "segfolder:PATH", needs_argument=True),
        DataSource("voc", MASKS, _mask_folders(load_voc), "voc:PATH", needs_argument=True)):
    DATA_SOURCES.register(_source)
