"""How `make test` shares the suite between pytest-xdist workers: a test file is one unit of work, so its module
and session fixtures are built once, and all device tests are one unit, so one private Docker engine and one sshd
per kind serve them. Units go out in collection order (tests/conftest.py puts the heaviest first).

xdist's own `--dist loadgroup` cannot do this under pytest 9: it renames items through `item._nodeid`, which pytest
9 no longer reads, so the marks were silently ignored and a module fixture was built on both workers."""
from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

DEVICE_TESTS = "tests/devices/"


class FileUnits(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return DEVICE_TESTS if path.startswith(DEVICE_TESTS) else path
