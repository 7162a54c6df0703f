"""What `edgeship check` decides, typed: one RowVerdict per judged row and the overall Verdict. `--json` prints
`Verdict.to_dict()`; the latency, accuracy and memory parts are the statistics module's judgements."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from edgeship.pipeline.gate.statistics import GateSettings

KEY_FIELDS = ("model", "format", "precision", "target")
EXIT_NAMES = ("pass", "fail", "inconclusive")


def worst(verdicts: set[str]) -> str:
    return "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"


@dataclass(frozen=True)
class RowVerdict:
    model: str
    format: str
    precision: str
    target: str
    verdict: str                 # pass | fail | inconclusive
    reason: str
    latency: dict | None = None  # ratio, low, high, samples, interleaved, looks, verdict, reason
    accuracy: dict | None = None
    memory: dict | None = None


@dataclass
class Verdict:
    settings: GateSettings
    rows: list[RowVerdict] = field(default_factory=list)
    appeared: list[tuple] = field(default_factory=list)     # row keys only the current run has
    disappeared: list[tuple] = field(default_factory=list)  # row keys only the baseline has

    @property
    def verdict(self) -> str:
        return worst({r.verdict for r in self.rows})

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "settings": vars(self.settings), "rows": [asdict(r) for r in self.rows],
                "appeared": [dict(zip(KEY_FIELDS, k)) for k in self.appeared],
                "disappeared": [dict(zip(KEY_FIELDS, k)) for k in self.disappeared]}
