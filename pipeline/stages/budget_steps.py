"""The budget search's steps: one row of budget-steps.csv each, and their JSON in the search's checkpoint."""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeship.pipeline.stages.budget_latency import Measured

CONFIRMS = "fine-tuned"  # a step whose move starts so is the winner's fine-tune, measured as it will ship


@dataclass
class Step:
    step: int
    move: str
    macs: int
    val_accuracy: float
    measured: Measured
    seconds: float
    tried: tuple[dict, ...] = ()  # the step's candidates: move, adaptive-BN accuracy, measured latency
    goal_ms: float | None = None  # the latency the step aimed at (sized by the layer table)

    @property
    def confirms(self) -> bool:
        return self.move.startswith(CONFIRMS)

    def row(self, metric: str) -> dict:
        m = self.measured
        return {"step": self.step, "move": self.move, "macs": self.macs, "val_accuracy": round(self.val_accuracy, 3),
                f"{metric}_ms": round(m.latency_ms, 4), "low_ms": round(m.low_ms, 4), "high_ms": round(m.high_ms, 4),
                "size_kb": round(m.size_kb, 1), "peak_rss_mb": m.peak_rss_mb, "seconds": round(self.seconds, 1),
                "goal_ms": None if self.goal_ms is None else round(self.goal_ms, 4)}

    def to_json(self) -> dict:
        return asdict(self) | {"tried": list(self.tried)}

    @classmethod
    def from_json(cls, data: dict) -> Step:
        return cls(**{**data, "measured": Measured(**data["measured"]), "tried": tuple(data["tried"])})


def write_steps(path: Path, steps: list[Step], metric: str) -> None:
    rows = [s.row(metric) for s in steps]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def tried_row(move: str, val_accuracy: float, m, picked: bool, estimated_ms: float | None = None,
              refined: bool = False) -> dict:
    """One candidate of a step, as the report lists it (`refined`: the pick made smaller, stages/budget_refine.py)."""
    said = {"move": move, "val_accuracy": round(val_accuracy, 3), "picked": picked, "refined": refined}
    if estimated_ms is not None:
        said["estimated_ms"] = round(estimated_ms, 4)
    if not isinstance(m, Measured):
        return said | {"error": str(m)}
    post = {} if m.post_ms is None else {"post_ms": round(m.post_ms, 4)}
    return said | {"latency_ms": round(m.latency_ms, 4), "high_ms": round(m.high_ms, 4)} | post
