"""The agent's JSON is parsed once into AgentResult: known keys typed, a plug-in metric's own keys kept."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.agent_result import AgentResult


def test_known_keys_are_fields_and_the_rest_is_kept():
    raw = {"status": "ok", "accuracy": 97.5, "timings_ms": [1.0, 2.0], "baseline_timings_ms": [1.5],
           "postprocess_ms": {"p50": 0.25}, "images": 30, "target": "local", "emulated": False}
    result = AgentResult.parse(raw)
    assert result.ok and result.accuracy == 97.5 and result.paired
    assert result.p50(result.postprocess_ms) == 0.25 and result.p50(result.preprocess_ms) is None
    assert result.extra == {"images": 30}
    assert AgentResult.parse(result.to_dict()) == result  # what the bench cache writes reads back the same


def test_nothing_back_or_a_failure_is_a_failed_result():
    assert not AgentResult.parse(None).ok
    failed = AgentResult.parse({"status": "failed", "error": "target box: unreachable"})
    assert not failed.ok and not failed.paired and failed.error == "target box: unreachable"
    assert not AgentResult.parse({"status": "ok", "timings_ms": [1.0]}).paired  # no baseline came back
