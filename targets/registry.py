"""Target adapters by type name."""
from __future__ import annotations

from targets.local import LocalTarget

ADAPTERS = {"local": LocalTarget}


def make_target(cfg) -> LocalTarget:
    return ADAPTERS[cfg.type](name=cfg.name, python=cfg.python)
