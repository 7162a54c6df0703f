"""Leftovers of a killed run: the temp folders and files the atomic writers make."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

STALE = re.compile(r"^\.(tmp-.+|trash-.+|ship\.\d+|.+\.\d+\.(tmp|npz))$")  # what the atomic writers make


def clean_stale_temp(run_dir: Path) -> None:
    """Leftovers of a killed run (temp stage folders, temp files of the atomic writers): never used, and only
    called under the run lock, so no live writer owns them."""
    root = Path(run_dir)
    if not root.is_dir():
        return
    for path in list(root.rglob(".*")):
        if STALE.match(path.name):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
