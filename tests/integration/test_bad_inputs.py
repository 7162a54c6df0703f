"""Every case of the bad-input matrix: exit 2, one line naming the culprit, no traceback, nothing half-written."""
from __future__ import annotations

import pytest

from tests.support.bad_inputs import CASES, verdict


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clear_line(case, tmp_path):
    ok, detail = verdict(case, tmp_path)
    assert ok, detail


def test_matrix_has_at_least_30_cases():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)
