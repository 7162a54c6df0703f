"""The device agent's result, parsed once: the agent and the transports speak JSON (targets/agent/main.py prints
one object; a target adds which target ran it), and everything on the host reads this typed object instead.

Keys this edgeship does not know (a plug-in metric's own figures, a newer agent's) are kept in `extra`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def known_and_extra(cls, data: dict, drop_none: bool = False) -> dict:
    """The constructor arguments of dataclass `cls` from a JSON mapping: its fields, and the rest under `extra`."""
    known = {f.name for f in fields(cls)} - {"extra"}
    values = {k: v for k, v in data.items() if k in known and not (drop_none and v is None)}
    return {**values, "extra": {k: v for k, v in data.items() if k not in known}}


@dataclass(frozen=True)
class AgentResult:
    status: str = "failed"                  # ok | failed
    error: str | None = None
    model: str | None = None                # the model file's name on the device
    format: str | None = None               # the agent runner that ran it
    runtime: str | None = None
    runtime_version: str | None = None
    threads: int | None = None
    settings: dict | None = None            # what the runtime was told (OpenVINO's precision hint, ...)
    input_shape: list[int] | None = None
    load_seconds: float | None = None
    cold_start_ms: float | None = None      # load + compile + first inference
    accuracy: float | None = None           # the task's device metric, in percent
    eval_samples: int | None = None
    eval_batch: int | None = None           # images per scoring call (timing is always at batch 1)
    segmentation: dict | None = None        # mIoU, pixel accuracy, IoU per class
    runs: int | None = None
    latency_ms: dict | None = None          # p50, p90, p99, mean, std, min, max
    timings_ms: list[float] | None = None   # every timed inference
    baseline_model: str | None = None       # interleaved timing: the other model ...
    baseline_timings_ms: list[float] | None = None  # ... and its timings
    injected_slowdown: float | None = None
    peak_rss_mb: float | None = None
    preprocess_ms: dict | None = None       # per image, timed apart from inference
    postprocess_ms: dict | None = None      # the task's device post-processing, where it has one
    batches: dict | None = None             # batch size -> {p50_ms, images_per_s} or {error}
    throughput: dict | None = None
    profile: dict | None = None
    platform: dict | None = None            # machine, cpu_features, ...
    extensions: list[str] | None = None     # plug-in modules the agent carried
    target: str | None = None               # added by the target that ran it
    emulated: bool = False
    emulated_cpu: str | None = None
    container_platform: str | None = None
    key: str | None = None                  # the bench cache's key of what was measured
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict | None) -> "AgentResult":
        """The one place the agent's JSON is read; None (nothing came back) is a failed result."""
        if data is None:
            return cls(error="no result")
        return cls(**known_and_extra(cls, data))

    @classmethod
    def failed(cls, error: str) -> "AgentResult":
        return cls(status="failed", error=error)

    def to_dict(self) -> dict:
        data = asdict(self)
        return {**data.pop("extra"), **{k: v for k, v in data.items() if v is not None}}

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def paired(self) -> bool:
        """An interleaved run that came back with both models' timings."""
        return self.ok and bool(self.baseline_timings_ms) and bool(self.timings_ms)

    def p50(self, summary: dict | None) -> float | None:
        return (summary or {}).get("p50")


@dataclass(frozen=True)
class ProbeResult:
    """The agent's `--probe` answer (what a target is), with what the target adds; parsed once, as AgentResult."""
    status: str = "failed"
    error: str | None = None
    platform: dict = field(default_factory=dict)   # machine, python, cpu_features, cpu_count, cpu_affinity
    runtimes: dict = field(default_factory=dict)   # runtime -> version, None where it does not import
    free_disk_mb: int | None = None
    numpy: str | None = None
    target: str | None = None
    emulated: bool = False
    emulated_cpu: str | None = None
    container_platform: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict | None) -> "ProbeResult":
        if data is None:
            return cls(error="no answer")
        return cls(**known_and_extra(cls, data, drop_none=True))

    @property
    def ok(self) -> bool:
        return self.status == "ok"
