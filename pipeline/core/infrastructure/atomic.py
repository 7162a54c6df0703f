"""Atomic writes: a file or a folder appears whole or not at all; a failure leaves the earlier one untouched."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


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


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> None:
    text = json.dumps(data, indent=indent, sort_keys=False, default=str)
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_folder_atomic(final: Path, fill: Callable[[Path], T]) -> T:
    """fill(tmp) builds the folder's contents in a temp folder beside `final`, which is then renamed into place
    (an earlier `final` goes only then). On any failure the temp folder goes and `final` stays as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        result = fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    trash = None
    if final.exists():
        trash = final.with_name(f".trash-{final.name}-{os.getpid()}")
        os.replace(final, trash)
    os.replace(tmp, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return result
