"""Datasets: built-in digits, Fashion-MNIST IDX files, ImageFolder trees.

Every source is loaded once into uint8 arrays (N, C, H, W) at the recipe's image size; the recipe's
preprocessing (scale to [0,1], normalize by mean/std) turns them into float32 model inputs and travels
with every artifact so that devices can reproduce it.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config.recipe import DataConfig
from pipeline.core.errors import EdgeshipError
from pipeline.core.keys import content_key

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEFAULT_FASHION_DIR = "/usr/share/datasets/fashion-mnist"


@dataclass
class Dataset:
    x_train: np.ndarray  # uint8 (N, C, H, W)
    y_train: np.ndarray  # int64 (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: list[str]
    preprocessing: dict
    key: str

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def inputs(self, x_uint8: np.ndarray) -> np.ndarray:
        return preprocess(x_uint8, self.preprocessing)


def preprocess(x_uint8: np.ndarray, pre: dict) -> np.ndarray:
    mean = np.asarray(pre["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(pre["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    return ((x_uint8.astype(np.float32) * np.float32(pre["scale"])) - mean) / std


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of uint8 (N, C, H, W) with torch; a no-op at the native size."""
    if images.shape[-2:] == (size, size):
        return images
    import torch
    import torch.nn.functional as F

    out = F.interpolate(torch.from_numpy(images).float(), size=(size, size), mode="bilinear", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


def _match_channels(images: np.ndarray, channels: int) -> np.ndarray:
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1 and channels == 3:
        return np.repeat(images, 3, axis=1)
    # RGB -> gray with the ITU-R 601 weights, as PIL's convert("L") does.
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)
    return (images.astype(np.float32) * weights).sum(1, keepdims=True).round().astype(np.uint8)


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


def _load_image_tree(folder: Path, size: int, channels: int, classes: list[str] | None = None):
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder

    try:
        tree = ImageFolder(str(folder))
    except (FileNotFoundError, OSError) as err:
        raise EdgeshipError(f"data.source: {folder}: {str(err).splitlines()[0]}") from None
    if classes is not None and tree.classes != classes:
        raise EdgeshipError(f"data.source: {folder} has classes {tree.classes}, the train folder has {classes}")
    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(tree.samples), channels, size, size), dtype=np.uint8)
    for i, (path, _) in enumerate(tree.samples):
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert(mode).resize((size, size), Image.BILINEAR))
        except (UnidentifiedImageError, OSError) as err:
            raise EdgeshipError(f"data.source: cannot read image {path}: {err}") from None
        images[i] = arr[None] if channels == 1 else arr.transpose(2, 0, 1)
    return images, np.asarray(tree.targets, dtype=np.int64), tree.classes


def _load_imagefolder(root: Path, size: int, channels: int):
    if not (root / "train").is_dir():
        raise EdgeshipError(f"data.source: {root / 'train'} not found (imagefolder needs train/ and val/ subfolders)")
    x_train, y_train, classes = _load_image_tree(root / "train", size, channels)
    x_test, y_test = None, None
    if (root / "val").is_dir():
        x_test, y_test, _ = _load_image_tree(root / "val", size, channels, classes)
    return x_train, y_train, classes, x_test, y_test


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): `fraction` of every class held out."""
    held = []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        held.extend(idx[: int(round(len(idx) * fraction))])
    held = np.sort(np.asarray(held, dtype=np.int64))
    keep = np.setdiff1d(np.arange(len(y)), held)
    return keep, held


def load_dataset(cfg: DataConfig) -> Dataset:
    kind, _, arg = cfg.source.partition(":")
    if len(cfg.mean) not in (1, cfg.channels) or len(cfg.std) not in (1, cfg.channels):
        raise EdgeshipError(f"data.mean/data.std: need 1 or {cfg.channels} values (data.channels)")
    if kind == "digits":
        x, y, labels, x_test, y_test = _load_digits()
    elif kind == "fashion-mnist":
        x, y, labels, x_test, y_test = _load_fashion(Path(arg or DEFAULT_FASHION_DIR))
    else:
        x, y, labels, x_test, y_test = _load_imagefolder(Path(arg), cfg.image_size, cfg.channels)
    if len(x) == 0:
        raise EdgeshipError(f"data.source: {cfg.source} holds no images")
    x = _match_channels(_resize(x, cfg.image_size), cfg.channels)
    rng = np.random.default_rng(cfg.split.seed)
    if x_test is None:
        keep, held = _stratified_split(y, cfg.split.test, rng)
        x, y, x_test, y_test = x[keep], y[keep], x[held], y[held]
    else:
        x_test = _match_channels(_resize(x_test, cfg.image_size), cfg.channels)
    keep, held = _stratified_split(y, cfg.split.val, rng)
    x_train, y_train, x_val, y_val = x[keep], y[keep], x[held], y[held]
    if cfg.limit_train is not None and len(x_train) > cfg.limit_train:
        pick = np.sort(rng.permutation(len(x_train))[: cfg.limit_train])
        x_train, y_train = x_train[pick], y_train[pick]
    channels = cfg.channels
    preprocessing = {
        "size": [cfg.image_size, cfg.image_size],
        "channels": channels,
        "layout": "NCHW",
        "scale": 1.0 / 255.0,
        "mean": list(cfg.mean) * (channels // len(cfg.mean)),
        "std": list(cfg.std) * (channels // len(cfg.std)),
    }
    key = content_key(
        cfg.model_dump(mode="json"),
        [_array_digest(a) for a in (x_train, y_train, x_val, y_val, x_test, y_test)],
    )
    return Dataset(x_train, y_train, x_val, y_val, x_test, y_test, labels, preprocessing, key)


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
