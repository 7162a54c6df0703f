"""One optimize at a time per run folder: an exclusive lock file, refused with a clear message."""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


@contextlib.contextmanager
def run_lock(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / ".lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise EdgeshipError(f"{run_dir}: another edgeship optimize is running on this run folder") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
