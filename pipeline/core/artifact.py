"""Artifact: a model file plus artifact.json beside it. Nothing else travels between stages."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

META_FILE = "artifact.json"


@dataclass
class Artifact:
    folder: Path
    file: str                     # model file name inside folder
    format: str                   # torch | onnx | tflite | openvino
    precision: str                # fp32 | int8
    key: str                      # content key of the stage that made it
    parent: str | None            # parent artifact's key (lineage)
    stage: str                    # stage name in the recipe flow (teacher, student-kd, onnx-int8, ...)
    inputs: list[dict[str, Any]]  # [{name, shape, dtype, layout}]
    preprocessing: dict[str, Any]  # {size, channels, mean, std, scale}
    labels: list[str]
    arch: dict[str, Any] | None = None  # how to rebuild a torch model: {arch, args, num_classes, channels, size}
    metrics: dict[str, Any] = field(default_factory=dict)  # params, macs, accuracy, parity, ...

    @property
    def path(self) -> Path:
        return self.folder / self.file

    def write(self) -> None:
        data = asdict(self)
        data.pop("folder")
        (self.folder / META_FILE).write_text(json.dumps(data, indent=2, sort_keys=True))

    @classmethod
    def read(cls, folder: Path) -> "Artifact":
        data = json.loads((Path(folder) / META_FILE).read_text())
        return cls(folder=Path(folder), **data)

    def moved_to(self, folder: Path) -> "Artifact":
        """The same artifact after its folder was renamed into place."""
        data = asdict(self)
        data["folder"] = Path(folder)
        return Artifact(**data)
