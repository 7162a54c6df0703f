"""The recipe's data section: where images (and masks) come from, their size and normalization, the splits."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.core.contracts.data_sources import MASKS, parse_source, source_named
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES


class Split(Section):
    val: float = Field(0.1, ge=0.0, lt=0.5)  # share of the training images held out for validation
    test: float = Field(0.2, gt=0.0, lt=0.9)  # share held out for test (where the source has no test files)
    seed: int = 0  # stratified splits with this seed


class SceneConfig(Section):
    """The built-in `scenes` source (segmentation): items placed at random on a canvas."""
    count: int = Field(2000, ge=20)          # scenes in all; the test share is made from held-out items
    canvas: int | None = Field(None, ge=16, le=1024)  # native scene size; None: data.image_size
    min_items: int = Field(2, ge=1)  # items pasted per scene, at least ...
    max_items: int = Field(4, ge=1)  # ... and at most
    # dark: a dark canvas with noise (grey); photo: crops of the photographs scikit-learn ships (RGB, items in
    # random colours; test scenes from parts of them the training scenes never show): clutter, as real pictures
    backgrounds: Literal["dark", "photo"] = "dark"


class DataConfig(Section):
    # a registered data source, name[:argument]: classification digits | fashion-mnist[:PATH] | imagefolder:PATH;
    # segmentation scenes[:digits|:fashion-mnist[:PATH]] | segfolder:PATH | voc:PATH; or a plug-in's
    source: str = "digits"
    # The model's input: below 64 px images are resized to it; from 64 px up resized on the shorter side to
    # size/0.875 and center-cropped. Preprocessing travels with every artifact.
    image_size: int = Field(8, ge=4, le=1024)
    channels: Literal[1, 3] = 1  # 1: grey, 3: RGB (images are converted to it)
    mean: list[float] = [0.5]  # normalization after scaling pixels to [0, 1], one value per channel
    std: list[float] = [0.5]  # as mean: one value per channel
    split: Split = Split()
    # Keep at most this many training images (fast experiments on big sets); None keeps all.
    limit_train: int | None = Field(None, ge=10)
    # At most this many validation / test images, the same number per class (fixed seed); None keeps all.
    limit_val: int | None = Field(None, ge=10)
    limit_test: int | None = Field(None, ge=10)  # as limit_val, for the test split
    # imagefolder: decode every file once into memory at the model's size instead of streaming from disk.
    in_memory: bool = False
    # imagefolder: leave out files that are not readable images (counted in the report) instead of failing.
    skip_unreadable: bool = False
    # DataLoader worker processes; None: 0 for in-memory sources, up to 4 for files.
    workers: int | None = Field(None, ge=0, le=64)
    scenes: SceneConfig = SceneConfig()

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        name, argument = parse_source(value)
        if name not in DATA_SOURCES.names():
            usages = ", ".join(source.usage for _, source in DATA_SOURCES.items())
            raise ValueError(f"unknown data source {value!r}; use {usages}")
        source = DATA_SOURCES.get(name)
        if source.needs_argument and not argument:
            raise ValueError(f"{name} needs a path: {source.usage}")
        source.check(argument)
        return value

    @property
    def targets(self) -> str:
        """What the source gives per image: labels, masks or a plug-in task's kind (DataSource.targets)."""
        return source_named(self.source).targets

    @property
    def dense(self) -> bool:
        """Whether the source gives masks (segmentation) rather than one label per image."""
        return self.targets == MASKS

    @field_validator("std")
    @classmethod
    def _positive_std(cls, value: list[float]) -> list[float]:
        if any(s <= 0 for s in value):
            raise ValueError("every std must be > 0")
        return value
