"""Datasets: built-in digits, Fashion-MNIST IDX files, ImageFolder trees (one label per image); built-in scenes,
segmentation folders and Pascal VOC (a mask per image); split into train / val / test.

Digits and Fashion-MNIST are small and stay in memory at their native size; an ImageFolder is a list of files
decoded when a loader asks (or, with data.in_memory, decoded once at the exact model size). The recipe's
preprocessing (resize, crop, scale, mean, std: edgeship.pipeline.data.transforms) travels with every artifact so that
devices can reproduce it.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeship.pipeline.config.recipe import DataConfig
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.keys import content_key
from edgeship.pipeline.data.mask_splits import MaskArraySplit, MaskSplit
from edgeship.pipeline.data.scenes import compose_scenes, held_out_items
from edgeship.pipeline.data.segfolders import load_segfolder, load_voc
from edgeship.pipeline.data.splits import ArraySplit, FileSplit, Split, file_listing_digest
from edgeship.pipeline.data.transforms import make_preprocessing

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEFAULT_FASHION_DIR = "/usr/share/datasets/fashion-mnist"


@dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    labels: list[str]
    preprocessing: dict
    key: str
    skipped: int = 0  # unreadable files left out (data.skip_unreadable)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def describe(self) -> str:
        kind = "files decoded on the fly" if getattr(self.train, "decodes_files", False) else "in memory"
        skipped = f", {self.skipped} unreadable files skipped" if self.skipped else ""
        return (f"{len(self.train)} train / {len(self.val)} val / {len(self.test)} test, {self.num_classes} "
                f"classes, {kind}{skipped}")


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return images, bunch.target.astype(np.int64), [str(t) for t in bunch.target_names], None, None


def _read_idx(path: Path) -> np.ndarray:
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


def _load_fashion(folder: Path):
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
            arrays[name] = _read_idx(found)
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


def _load_scenes(cfg: DataConfig, pre: dict):
    """The built-in scenes: items of digits or Fashion-MNIST on a canvas; test scenes from held-out items."""
    _, _, items_from = cfg.source.partition(":")
    kind, _, path = items_from.partition(":")
    if kind == "fashion-mnist":
        x, y, names, x_test, y_test = _load_fashion(Path(path or DEFAULT_FASHION_DIR))
    else:
        x, y, names, _, _ = _load_digits()
        train_items, test_items = held_out_items(y, cfg.split.test, cfg.split.seed)
        x, y, x_test, y_test = x[train_items], y[train_items], x[test_items], y[test_items]
    s = cfg.scenes
    canvas = s.canvas or cfg.image_size
    n_test = max(1, int(round(s.count * cfg.split.test)))
    # The seeds differ, so train and test scenes are different draws as well as different items.
    train = compose_scenes(x, y, s.count - n_test, canvas, s.min_items, s.max_items, cfg.split.seed)
    test = compose_scenes(x_test, y_test, n_test, canvas, s.min_items, s.max_items, cfg.split.seed + 1)
    digest = [_array_digest(a) for a in (*train, *test)]
    return MaskArraySplit(*train, pre), MaskArraySplit(*test, pre), ["background", *names], digest, 0


def _load_imagefolder(root: Path, cfg: DataConfig, pre: dict):
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


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): `fraction` of every class held out."""
    held = []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        held.extend(idx[: int(round(len(idx) * fraction))])
    held = np.sort(np.asarray(held, dtype=np.int64))
    keep = np.setdiff1d(np.arange(len(y)), held)
    return keep, held


def _sources(cfg: DataConfig, pre: dict):
    """(train-or-all split, test split or None, class names, what identifies the source's content, skipped)."""
    kind, _, arg = cfg.source.partition(":")
    if kind == "imagefolder":
        return _load_imagefolder(Path(arg), cfg, pre)
    if kind == "scenes":
        return _load_scenes(cfg, pre)
    if kind in ("segfolder", "voc"):
        train, test, classes, listing, skipped = (load_segfolder if kind == "segfolder" else load_voc)(Path(arg), pre)
        if cfg.in_memory:
            train, test = _decode_all(train), (_decode_all(test) if test is not None else None)
        return train, test, classes, listing, skipped
    if kind == "digits":
        x, y, labels, x_test, y_test = _load_digits()
    else:
        x, y, labels, x_test, y_test = _load_fashion(Path(arg or DEFAULT_FASHION_DIR))
    digest = [_array_digest(a) for a in (x, y, x_test, y_test) if a is not None]
    test = ArraySplit(x_test, y_test, pre) if x_test is not None else None
    return ArraySplit(x, y, pre), test, labels, digest, 0


def load_dataset(cfg: DataConfig) -> Dataset:
    if len(cfg.mean) not in (1, cfg.channels) or len(cfg.std) not in (1, cfg.channels):
        raise EdgeshipError(f"data.mean/data.std: need 1 or {cfg.channels} values (data.channels)")
    pre = make_preprocessing(cfg.image_size, cfg.channels, cfg.mean, cfg.std, dense=cfg.dense)
    everything, test, labels, source_digest, skipped = _sources(cfg, pre)
    if len(everything) == 0:
        raise EdgeshipError(f"data.source: {cfg.source} holds no images")
    rng = np.random.default_rng(cfg.split.seed)
    if test is None:
        keep, held = _stratified_split(everything.labels, cfg.split.test, rng)
        everything, test = everything.subset(keep), everything.subset(held)
    keep, held = _stratified_split(everything.labels, cfg.split.val, rng)
    train, val = everything.subset(keep), everything.subset(held)
    if cfg.limit_train is not None and len(train) > cfg.limit_train:
        train = train.subset(np.sort(rng.permutation(len(train))[: cfg.limit_train]))
    val, test = val.sample(cfg.limit_val, cfg.split.seed), test.sample(cfg.limit_test, cfg.split.seed)
    key = content_key(cfg.model_dump(mode="json", exclude={"workers"}), source_digest,
                      [_array_digest(s.rows) for s in (train, val, test)])
    return Dataset(train, val, test, list(labels), pre, key, skipped)


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
