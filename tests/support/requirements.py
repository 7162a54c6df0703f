"""What a test needs from this machine. A missing tool skips the test on a developer's machine; under
EDGESHIP_REQUIRE_DEVICES=1 (what .ci/run sets) it fails it, so CI cannot pass by skipping. Errors of edgeship's
own code never come here: they fail the test everywhere."""
from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "EDGESHIP_REQUIRE_DEVICES"


def devices_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(reason: str) -> None:
    """This machine lacks something the test needs (a tool, root, a package): skip, or fail when required."""
    if devices_required():
        pytest.fail(f"{REQUIRE_ENV}=1 and this machine lacks what the test needs: {reason}", pytrace=False)
    pytest.skip(reason)
