"""Run folder: content-keyed stage folders, written atomically, recorded in manifest.json."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from pipeline.artifact import META_FILE, Artifact


def tool_versions(*packages: str) -> dict[str, str]:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def content_key(*parts: Any) -> str:
    """Hash of canonical JSON of the parts: stable across runs and machines."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """write(tmp) then rename over `path`; on any failure (a full disk, a kill) the temp file goes, and an
    earlier `path` stays as it was. `suffix` keeps writers that add an extension (np.savez) happy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    write_atomic(path, lambda tmp: tmp.write_text(text))


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


class RunFolder:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.stages_dir = self.root / "stages"
        self.records: list[StageRecord] = []

    def stage_dir(self, name: str, key: str) -> Path:
        return self.stages_dir / f"{name}-{key}"

    def has_stage(self, name: str, key: str) -> bool:
        return (self.stage_dir(name, key) / META_FILE).is_file()

    def record(self, rec: StageRecord) -> None:
        self.records = [r for r in self.records if r.name != rec.name] + [rec]
        write_json_atomic(self.root / "manifest.json", {"stages": [vars(r) for r in self.records]})

    def run_stage(
        self,
        name: str,
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
        final = self.stage_dir(name, key)
        if self.has_stage(name, key) and not force:
            self.record(StageRecord(name, stage_type, key, parent, "reused", 0.0, versions))
            return Artifact.read(final)
        self.stages_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.stages_dir / f".tmp-{name}-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        start = time.perf_counter()
        try:
            artifact = build(tmp)
            artifact.write()
        except BaseException as err:
            shutil.rmtree(tmp, ignore_errors=True)
            message = f"{type(err).__name__}: {err}".splitlines()[0][:500]
            self.record(StageRecord(name, stage_type, key, parent, "failed", time.perf_counter() - start,
                                    versions, message))
            raise
        seconds = time.perf_counter() - start
        trash = None
        if final.exists():
            trash = self.stages_dir / f".trash-{name}-{key}-{os.getpid()}"
            os.replace(final, trash)
        os.replace(tmp, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        self.record(StageRecord(name, stage_type, key, parent, "ok", seconds, versions))
        return artifact.moved_to(final)
