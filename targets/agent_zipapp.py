"""The agent as the one file that travels to a device: a zipapp of the targets/agent package.

The package's modules import one another relatively, so inside the archive they are the package `edgeship_agent`
and `python agent.pyz ...` runs it with numpy and one runtime, nothing of edgeship. The archive is built once per
content of the package (a hash of its sources names the folder it is cached in) and written atomically.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipapp
from pathlib import Path

AGENT_NAME = "agent.pyz"  # the file name on the device
PACKAGE = "edgeship_agent"
SOURCE = Path(__file__).with_name("agent")
MAIN = "import sys\n\nfrom edgeship_agent.main import main\n\nsys.exit(main())\n"
CACHE = Path(os.environ.get("EDGESHIP_CACHE", Path.home() / ".cache" / "edgeship")) / "agent"


def _sources() -> list[Path]:
    return sorted(p for p in SOURCE.glob("*.py") if p.name != "__main__.py")


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def agent_zipapp(cache: Path = CACHE) -> Path:
    """The path of agent.pyz for the package as it is now, built if this content has not been built yet (under
    edgeship's cache, EDGESHIP_CACHE or ~/.cache/edgeship; the temp folder where that cannot be written)."""
    digest = source_digest()
    folder = cache / digest
    target = folder / AGENT_NAME
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"edgeship-agent-{digest}"
        target = folder / AGENT_NAME
        folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgeship-agent-build-") as staging:
        package = Path(staging) / "app" / PACKAGE
        package.mkdir(parents=True)
        for path in _sources():
            shutil.copyfile(path, package / path.name)
        (package.parent / "__main__.py").write_text(MAIN)
        partial = folder / f".{AGENT_NAME}.{os.getpid()}"
        zipapp.create_archive(package.parent, partial, interpreter=None)
        os.replace(partial, target)  # another process building the same content writes the same archive
    return target
