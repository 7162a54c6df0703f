"""Run folder: content-keyed stage folders, written atomically, recorded in manifest.json."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgeship.pipeline.core.contracts.artifact import META_FILE, Artifact
from edgeship.pipeline.core.contracts.stage_graph import StageId
from edgeship.pipeline.core.infrastructure.atomic import write_folder_atomic, write_json_atomic
from edgeship.pipeline.core.infrastructure.errors import one_line


@dataclass
class StageRecord:
    name: str
    type: str
    key: str
    parent: str | None
    status: str          # ok | reused | failed | skipped
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    identity: dict | None = None  # StageId.to_dict(); None in the manifest of an edgeship before 0.2

    @property
    def id(self) -> StageId | None:
        return StageId.from_dict(self.identity) if self.identity else None


class RunFolder:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.stages_dir = self.root / "stages"
        self.records: list[StageRecord] = []

    def stage_dir(self, name: str, key: str) -> Path:
        return self.stages_dir / f"{name}-{key}"

    def has_stage(self, name: str, key: str) -> bool:
        return (self.stage_dir(name, key) / META_FILE).is_file()

    def read_manifest(self) -> list[StageRecord]:
        """The stages the last optimize recorded (none when there is no manifest)."""
        path = self.root / "manifest.json"
        if not path.is_file():
            return []
        return [StageRecord(**rec) for rec in json.loads(path.read_text()).get("stages", [])]

    def record(self, rec: StageRecord) -> None:
        self.records = [r for r in self.records if r.name != rec.name] + [rec]
        write_json_atomic(self.root / "manifest.json", {"stages": [vars(r) for r in self.records]})

    def run_stage(
        self,
        sid: StageId,
        stage_type: str,
        key: str,
        parent: str | None,
        versions: dict[str, str],
        build: Callable[[Path], Artifact],
        force: bool = False,
    ) -> Artifact:
        """Reuse the folder for `key` if it exists, else build into a temp folder and rename it into place.

        A crash inside `build` removes the temp folder and leaves any earlier result untouched.
        """
        name, identity = sid.name, sid.to_dict()
        final = self.stage_dir(name, key)
        if self.has_stage(name, key) and not force:
            self.record(StageRecord(name, stage_type, key, parent, "reused", 0.0, versions, identity=identity))
            return Artifact.read(final)
        start = time.perf_counter()

        def fill(tmp: Path) -> Artifact:
            artifact = build(tmp)
            artifact.write()
            return artifact

        try:
            artifact = write_folder_atomic(final, fill)
        except BaseException as err:
            self.record(StageRecord(name, stage_type, key, parent, "failed", time.perf_counter() - start,
                                    versions, one_line(err, 500), identity))
            raise
        self.record(StageRecord(name, stage_type, key, parent, "ok", time.perf_counter() - start, versions,
                                identity=identity))
        return artifact.moved_to(final)
