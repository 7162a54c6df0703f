"""Artifact: a model file plus artifact.json beside it. Nothing else travels between stages."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeship.pipeline.core.contracts.stage_graph import StageId

META_FILE = "artifact.json"


@dataclass
class Artifact:
    folder: Path
    file: str                     # model file name inside folder
    format: str                   # torch | onnx | tflite | openvino
    precision: str                # fp32 | int8
    key: str                      # content key of the stage that made it
    parent: str | None            # parent artifact's key (lineage)
    stage: str                    # stage name in the flow (teacher, student-kd, onnx-int8, ...): a key, never parsed
    inputs: list[dict[str, Any]]  # [{name, shape, dtype, layout}]
    preprocessing: dict[str, Any]  # {size, channels, mean, std, scale}
    labels: list[str]
    arch: dict[str, Any] | None = None  # how to rebuild a torch model: {arch, args, num_classes, channels, size}
    metrics: dict[str, Any] = field(default_factory=dict)  # params, macs, accuracy, parity, ...
    # The typed identity (core/contracts/stage_graph.py): role, whose weights, a student's variant. Empty in the
    # artifact.json of an edgeship before 0.2 (a committed gate baseline), which is still read for its file.
    role: str = ""
    of_teacher: bool = False
    variant: str = ""

    @classmethod
    def made(cls, sid: StageId, **fields) -> "Artifact":
        """The artifact of stage `sid`: its name, role, format and precision all come from the identity."""
        return cls(**sid.fields(), format=sid.format, precision=sid.precision, **fields)

    @property
    def id(self) -> StageId:
        if not self.role:
            raise ValueError(f"{self.folder / META_FILE}: written by an older edgeship, it has no stage identity")
        return StageId.of(self.role, self.format, self.precision, self.of_teacher, self.variant)

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
