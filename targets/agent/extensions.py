"""Extension modules: what a plug-in format or task adds to the agent (a runner for a runtime it does not know, a
task's metric), pushed inside the zipapp beside the agent's own modules.

An extension is one standalone module (numpy, its runtime, the standard library: never edgeship) with a
module-level `RUNNERS = {name: runner class}` and/or `METRICS = {name: metric class}`; they join the agent's
tables under those names. In the zipapp they sit in the `plugged` sub-package, listed by its __init__'s NAMES;
on the host, load_file() adopts one by its path.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

from .metrics import METRICS
from .runners import RUNNERS


def adopt(module) -> None:
    """Add the module's runners and metrics to the agent's tables (an extension may not replace a built-in)."""
    for table, extra in ((RUNNERS, getattr(module, "RUNNERS", {})), (METRICS, getattr(module, "METRICS", {}))):
        for name, cls in extra.items():
            if name in table and table[name] is not cls and table[name].__module__ != cls.__module__:
                raise ValueError(f"agent extension {module.__name__}: {name!r} is taken by {table[name].__module__}")
            table[name] = cls


def load_file(path: str) -> None:
    """The host's way in: import the extension by its file path (once) and adopt it."""
    name = "edgeship_agent_extension_" + "".join(c if c.isalnum() else "_" for c in str(path))
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    adopt(module)


def load_packaged() -> list[str]:
    """The device's way in: the extensions the zipapp carries (none when the agent runs from its source folder)."""
    try:
        listing = importlib.import_module(f"{__package__}.plugged")
    except ImportError:
        return []
    for name in listing.NAMES:
        adopt(importlib.import_module(f"{__package__}.plugged.{name}"))
    return list(listing.NAMES)
