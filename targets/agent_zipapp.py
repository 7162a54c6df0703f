"""The agent as the one file that travels to a device: a zipapp of the targets/agent package.

The package's modules import one another relatively, so inside the archive they are the package `edgeship_agent`
and `python agent.pyz ...` runs it with numpy and one runtime, nothing of edgeship. The extension modules that
plug-ins bring (a format's runner, a task's metric: agent/extensions.py) travel in its `plugged` sub-package. The
archive is built once per content (a hash of all those sources names the folder it is cached in) and written
atomically.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipapp
from pathlib import Path

from edgeship.pipeline.core.contracts.plugins import agent_extension_files

AGENT_NAME = "agent.pyz"  # the file name on the device
PACKAGE = "edgeship_agent"
SOURCE = Path(__file__).with_name("agent")
MAIN = "import sys\n\nfrom edgeship_agent.main import main\n\nsys.exit(main())\n"
CACHE = Path(os.environ.get("EDGESHIP_CACHE", Path.home() / ".cache" / "edgeship")) / "agent"


def _sources() -> list[Path]:
    return sorted(p for p in SOURCE.glob("*.py") if p.name != "__main__.py")


def source_digest(extensions: list[Path] = ()) -> str:
    digest = hashlib.sha256()
    for path in [*_sources(), *extensions]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _plugged_names(extensions: list[Path]) -> list[str]:
    names = [path.stem for path in extensions]
    if len(set(names)) != len(names):
        raise ValueError(f"agent extension modules need distinct file names: {', '.join(map(str, extensions))}")
    return names


def agent_zipapp(cache: Path = CACHE, extensions: list[Path] | None = None) -> Path:
    """The path of agent.pyz for the package as it is now, with the registered plug-ins' extension modules (or
    `extensions`), built if this content has not been built yet (under edgeship's cache, EDGESHIP_CACHE or
    ~/.cache/edgeship; the temp folder where that cannot be written)."""
    extensions = [Path(p) for p in (agent_extension_files() if extensions is None else extensions)]
    names = _plugged_names(extensions)
    digest = source_digest(extensions)
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
        if extensions:
            (package / "plugged").mkdir()
            (package / "plugged" / "__init__.py").write_text(f"NAMES = {names!r}\n")
            for path, name in zip(extensions, names):
                shutil.copyfile(path, package / "plugged" / f"{name}.py")
        (package.parent / "__main__.py").write_text(MAIN)
        # a name of its own per build: targets benched in parallel threads of one process may build at once
        handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{AGENT_NAME}.")
        os.close(handle)
        zipapp.create_archive(package.parent, partial, interpreter=None)
        os.chmod(partial, 0o644)  # mkstemp's 0600 would keep a container's other user from reading it
        os.replace(partial, target)  # another build of the same content writes the same archive
    return target
