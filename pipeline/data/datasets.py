"""Datasets: the recipe's data source (pipeline/data/sources.py and plug-ins, by name from DATA_SOURCES) split
into train / val / test.

The recipe's preprocessing (resize, crop, scale, mean, std: edgeship.pipeline.data.transforms) travels with every
artifact so that devices can reproduce it.
"""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeship.pipeline.config.recipe import DataConfig
from edgeship.pipeline.core.contracts.data_sources import SourceData, parse_source, source_named
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.keys import content_key
from edgeship.pipeline.data.sources import array_digest
from edgeship.pipeline.data.splits import Split
from edgeship.pipeline.data.transforms import make_preprocessing


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
    if len(cfg.mean) not in (1, cfg.channels) or len(cfg.std) not in (1, cfg.channels):
        raise EdgeshipError(f"data.mean/data.std: need 1 or {cfg.channels} values (data.channels)")
    pre = make_preprocessing(cfg.image_size, cfg.channels, cfg.mean, cfg.std, dense=cfg.dense)
    source = source_named(cfg.source)
    loaded = source.load(parse_source(cfg.source)[1], cfg, pre)
    if not isinstance(loaded, SourceData):
        raise EdgeshipError(f"data.source: data source {source.name!r} returned {type(loaded).__name__}, "
                            "not a SourceData")
    everything, test, labels, skipped = loaded.everything, loaded.test, loaded.classes, loaded.skipped
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
    key = content_key(cfg.model_dump(mode="json", exclude={"workers"}), loaded.digest, _code_digest(source.load),
                      [array_digest(s.rows) for s in (train, val, test)])
    return Dataset(train, val, test, list(labels), pre, key, skipped)


def _code_digest(function) -> str:
    """The source file of the code that loads the data: a changed loader (a plug-in's included) is new data."""
    path = inspect.getsourcefile(function)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""
