"""Content keys: hashes of canonical JSON, of files, and the versions of the tools that made a result."""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any


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


PROJECT_ROOT = Path(__file__).resolve().parents[3]  # pipeline/core/infrastructure/keys.py
_CODE_KEYS: dict[tuple[str, ...], str] = {}


def code_key(*paths: str | Path) -> str:
    """Hash of the Python source under these files or folders (relative to the project root, or absolute): a
    result keyed with it is rebuilt when the code that made it changes, not only when a package version moves."""
    parts = tuple(sorted(str(p) for p in paths))
    if parts not in _CODE_KEYS:
        digest = hashlib.sha256()
        for part in parts:
            path = Path(part) if Path(part).is_absolute() else PROJECT_ROOT / part
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
            for file in files:
                digest.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes() + b"\0")
        _CODE_KEYS[parts] = digest.hexdigest()[:12]
    return _CODE_KEYS[parts]
