"""The DataSource contract: where a run's images and their targets come from (`data.source: name[:argument]`).

A data source is one file that registers a `DataSource` in core/contracts/plugins.py DATA_SOURCES. Its `load`
gets the text after the first colon (a path, or a built-in's option), the recipe's data section and the
preprocessing, and returns the images as splits (edgeship.pipeline.data.splits): all of them, or a train part and
the source's own test part. Which targets it gives (one label per image, a mask per image, ...) decides which
tasks can use it (`Task.targets`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES

LABELS = "labels"  # one class index per image
MASKS = "masks"    # a class index per pixel (255: ignore)
BOXES = "boxes"    # a variable number of rows (class, x1, y1, x2, y2[, ignore]) per image


@dataclass(frozen=True)
class SourceData:
    """What a source loaded: `everything` is split into train/val(/test) by the run; `test` is the source's own
    test part, or None (then the run holds out data.split.test of everything)."""
    everything: Any                # a Split
    test: Any | None               # a Split, or None
    classes: list[str]
    digest: Any                    # JSON-able: what identifies the content (array hashes, file listing)
    skipped: int = 0               # unreadable files left out (data.skip_unreadable)


@dataclass(frozen=True)
class DataSource:
    name: str
    targets: str                   # what its splits give per image: LABELS, MASKS or a plug-in task's kind
    load: Callable                 # load(argument, data_config, preprocessing) -> SourceData
    usage: str                     # how a recipe writes it, for error messages: "imagefolder:PATH"
    needs_argument: bool = False   # the part after the colon is required (a path)
    # check(argument) -> None: raises ValueError on an argument the recipe cannot take, when the recipe is read
    check: Callable[[str], None] = lambda argument: None


def parse_source(text: str) -> tuple[str, str]:
    """'imagefolder:/data/x' -> ('imagefolder', '/data/x')."""
    name, _, argument = text.partition(":")
    return name, argument


def source_named(text: str, field: str = "data.source") -> DataSource:
    return DATA_SOURCES.get(parse_source(text)[0], field)
