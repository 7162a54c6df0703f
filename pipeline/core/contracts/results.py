"""Typed results: one ResultRow per (artifact, target column), one Report per run.

report.json keeps the same fields it always had (rows are plain mappings there), so a report written by an
earlier edgeship still loads: unknown keys are kept, missing ones take their defaults. The rules that every
view shares live here once: an emulator's latency is never shown or compared (`display_latency`,
`native_p50`).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edgeship.pipeline.core.contracts.agent_result import known_and_extra
from edgeship.pipeline.core.contracts.stage_graph import STUDENT_KD
from edgeship.pipeline.core.infrastructure.timings_file import FIELD as TIMINGS_FIELD
from edgeship.pipeline.core.infrastructure.timings_file import attach_timings, write_with_timings

LATENCY_KEYS = ("p50", "p90", "p99", "mean", "std")


@dataclass
class ResultRow:
    model: str
    stage: str
    format: str
    precision: str
    target: str
    # The stage's typed identity (core/contracts/stage_graph.py); rows of an edgeship before 0.2 have no role.
    role: str | None = None
    of_teacher: bool = False
    status: str = "failed"                 # ok | failed
    error: str | None = None
    runtime: str | None = None
    threads: int | None = None
    size_bytes: int | None = None
    params: int | None = None
    macs: int | None = None
    accuracy: float | None = None
    latency_ms: dict[str, float] | None = None
    runs: int | None = None
    timings_ms: list[float] | None = None  # raw per-iteration timings: what the gate judges
    artifact_key: str | None = None
    parity: dict | None = None
    runtime_settings: dict | None = None
    emulated: bool = False
    emulated_cpu: str | None = None
    machine: str | None = None
    container_platform: str | None = None
    cpu_features: list[str] | None = None
    cpu_model: str | None = None           # as the agent read it on the target (x86 model name, a board's Model)
    int8: dict | None = None               # the int8 budget's outcome (sensitivity, layers kept float)
    speedup_vs_teacher: float | None = None        # teacher's p50 / this p50, same format and target (runtime)
    speedup_vs_torch_teacher: float | None = None  # against the teacher in torch eager on the same target
    eval_samples: int | None = None        # images the accuracy was measured on
    # The accuracy column holds the task's metric; a per-image proportion (top-1) has a Wilson interval, a
    # pixel-pooled score (mIoU) does not.
    per_image_metric: bool = True
    segmentation: dict | None = None       # mIoU, pixel accuracy and IoU per class, computed on the device
    cold_start_ms: float | None = None     # the agent's model load + compile + first inference
    # Per image on the device, timed apart from inference (latency_ms): making the model input from the image,
    # and the task's post-processing (None where the task has none), p50 ms.
    preprocess_ms: float | None = None
    postprocess_ms: float | None = None
    peak_rss_mb: float | None = None       # the agent process's peak resident memory
    profile: dict | None = None            # per-layer time and precision from the runtime's profiler (top layers)
    batches: dict | None = None            # batch size -> {p50_ms, images_per_s} or {error}
    throughput: dict | None = None         # images/s with parallel requests, or a note
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other edgeship versions, written back as they were

    @classmethod
    def from_dict(cls, data: dict) -> "ResultRow":
        # rows of other files (a results file, a baseline) may not name the stage
        row = cls(**known_and_extra(cls, {"stage": "", **data}))
        row.emulated = bool(row.emulated)
        return row

    def to_dict(self) -> dict:
        data = asdict(self)
        return {**data.pop("extra"), **data}

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_teacher(self) -> bool:
        """The teacher or one of its exports: measured for comparison, never shipped."""
        return self.role == "teacher" or self.of_teacher

    @property
    def is_native(self) -> bool:
        return not self.emulated

    def accuracy_interval(self) -> tuple[float, float] | None:
        """95% Wilson score interval of the accuracy (percent), from the images it was measured on."""
        n = self.eval_samples
        if self.accuracy is None or not n or not self.per_image_metric:
            return None
        return wilson_interval(self.accuracy / 100.0, n)

    def display_accuracy(self) -> str:
        """Accuracy with the half-width of its 95% interval: '97.49 ±0.95'."""
        if self.accuracy is None:
            return "-"
        interval = self.accuracy_interval()
        return f"{self.accuracy:.2f}" + (f" ±{(interval[1] - interval[0]) / 2:.2f}" if interval else "")

    def latency(self, key: str = "p50") -> float | None:
        """The measured figure, emulated or not (accuracy work and raw data)."""
        return (self.latency_ms or {}).get(key) if self.ok else None

    def native_latency(self, key: str = "p50") -> float | None:
        """Latency that means something for a device: none for an emulated target."""
        return self.latency(key) if self.is_native else None

    def display_latency(self, key: str = "p50") -> str:
        """A latency figure for people: an emulator's latency never sits beside a device's."""
        value = (self.latency_ms or {}).get(key)
        if value is None:
            return "-"
        return "emulated" if self.emulated else f"{value:.3f}"


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion p over n trials, in percent (sound near 0% and 100%, unlike p±z·se)."""
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half) * 100.0, min(1.0, centre + half) * 100.0


@dataclass(frozen=True)
class ShipChoice:
    """What ship/ holds for one format: the stage shipped (None: nothing, and `reason` says why) and why."""
    stage: str | None
    reason: str
    precision: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "ShipChoice":
        return cls(data.get("stage"), data.get("reason", ""), data.get("precision"))

    def to_dict(self) -> dict:
        return {"stage": self.stage, "reason": self.reason,
                **({"precision": self.precision} if self.precision else {})}


@dataclass
class Report:
    recipe: str
    results: list[ResultRow]
    stages: list[dict] = field(default_factory=list)
    kd_verdict: str | None = None
    ship: dict[str, ShipChoice] = field(default_factory=dict)
    reference_stage: str | None = None
    int8_vs_fp32: list[dict] = field(default_factory=list)
    pruning: list[dict] = field(default_factory=list)
    speed: list[dict] = field(default_factory=list)    # paired comparisons (core/contracts/speed.py SpeedComparison)
    distillation: dict | None = None
    notices: list[str] = field(default_factory=list)   # the report's first lines
    ship_from: str = STUDENT_KD.name                    # the trained student pruning and int8 start from
    unfit: dict[str, list[str]] = field(default_factory=dict)  # stage -> why it must not ship
    metric: str = "top-1 %"       # what the accuracy column holds (the task's metric)
    metric_name: str = "top-1"    # how sentences name its points
    figures: dict[str, str] = field(default_factory=dict)  # name -> inline SVG (segmentation: "masks")
    budget: dict | None = None    # the budget search's steps, candidates and uniform reference (stages/budget_search)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        known = {f.name for f in fields(cls)} - {"extra", "results", "ship"}
        return cls(results=[ResultRow.from_dict(r) for r in data.get("results") or []],
                   ship={fmt: ShipChoice.from_dict(c) for fmt, c in (data.get("ship") or {}).items()},
                   **{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known | {"results"}})

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "results", "ship")}
        return {**self.extra, **data, "ship": {fmt: c.to_dict() for fmt, c in self.ship.items()},
                "results": [r.to_dict() for r in self.results]}

    @property
    def shipped_stages(self) -> set[str]:
        return {c.stage for c in self.ship.values() if c.stage}

    @property
    def shipped_formats(self) -> set[str]:
        return {fmt for fmt, c in self.ship.items() if c.stage}

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(r.target for r in self.results))

    def write_json(self, path: Path) -> None:
        """report.json, its rows' raw timings in report.timings.json beside it (core/infrastructure/timings_file.py)."""
        write_with_timings(Path(path), self.to_dict())

    @classmethod
    def read_json(cls, path: Path) -> "Report":
        data = attach_timings(Path(path), json.loads(Path(path).read_text()))
        data.pop(TIMINGS_FIELD, None)  # written anew with the report
        return cls.from_dict(data)
