"""A toy data-source plug-in (docs/extending.md): labelled images in one CSV file (`csv:PATH`), the layout of
MNIST-in-CSV and Kaggle's digit recognizer: each row `label,pixel0,...,pixelN` of one square grey image (0-255),
an optional header row. Class names are the labels as written, in sorted order."""
from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np

from edgeship.pipeline.core.contracts.data_sources import LABELS, DataSource, SourceData
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.splits import ArraySplit


def load(argument: str, cfg, pre: dict) -> SourceData:
    path = Path(argument)
    if not path.is_file():
        raise EdgeshipError(f"data.source: {path} not found")
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if rows and not rows[0][1].strip().isdigit():
        rows = rows[1:]  # a header row
    sizes = {len(row) - 1 for row in rows}
    side = math.isqrt(next(iter(sizes), 0))
    if not rows or len(sizes) != 1 or side * side != sizes.pop() or side == 0:
        raise EdgeshipError(f"data.source: {path}: every row must be a label and the pixels of one square image")
    try:
        pixels = np.asarray([row[1:] for row in rows], dtype=np.int64)
    except ValueError as err:
        raise EdgeshipError(f"data.source: {path}: a pixel is not an integer ({err})") from None
    if pixels.min() < 0 or pixels.max() > 255:
        raise EdgeshipError(f"data.source: {path}: pixels must be 0-255")
    names = [row[0].strip() for row in rows]
    classes = sorted(set(names))
    labels = np.asarray([classes.index(n) for n in names], dtype=np.int64)
    images = pixels.astype(np.uint8).reshape(len(rows), 1, side, side)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return SourceData(ArraySplit(images, labels, pre), None, classes, digest)


DATA_SOURCES.register(DataSource("csv", LABELS, load, "csv:PATH", needs_argument=True))
