"""ship/: per format, the measurably fastest artifact within the allowed accuracy drop (else the more accurate),
with labels, preprocessing and sums."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgeship.pipeline.core.contracts.artifact import META_FILE, Artifact
from edgeship.pipeline.core.contracts.formats import model_files
from edgeship.pipeline.core.contracts.results import ResultRow, ShipChoice
from edgeship.pipeline.core.contracts.speed import FASTER, SAME, SLOWER, SpeedComparison, latency_interval
from edgeship.pipeline.core.contracts.stage_graph import export
from edgeship.pipeline.core.infrastructure.atomic import write_folder_atomic
from edgeship.pipeline.core.infrastructure.keys import file_sha256


def choose(rows: list[ResultRow], reference_stage: str, formats: list[str], max_drop: float,
           unfit: dict[str, list[str]] | None = None, speed: list[SpeedComparison] = (),
           budget: Budget | None = None) -> dict[str, ShipChoice]:
    """For each format: among its ok rows on the first native target (emulated latency decides nothing; with
    only emulated targets, the first one) whose accuracy is within budget, the faster file where paired timing
    (`speed`) tells them apart, else the more accurate one. Rows of `unfit` stages (stage -> why) never ship.
    With a `budget`, rows on its target's columns only (one per thread count it allows), and only those that meet
    it: the most accurate ships, at the thread count where it meets the budget (the faster where both do)."""
    unfit = unfit or {}
    if not rows:
        return {}
    columns = budget.columns if budget else (next((r.target for r in rows if r.is_native and r.ok), rows[0].target),)
    torch_ref = next((r for r in rows if r.stage == reference_stage and r.target in columns
                      and r.accuracy is not None), None)  # the fp32 student the allowed drop is measured from
    choices = {}
    for fmt in formats:
        candidates = [r for r in rows if r.format == fmt and r.target in columns and r.ok and not r.is_teacher]
        # a board without torch: the student's own fp32 file in this format stands for it (parity-checked)
        ref = torch_ref or next((r for r in candidates if r.stage == export(fmt).name and r.accuracy is not None),
                                None)
        if not candidates or ref is None:
            continue
        if all(r.stage in unfit for r in candidates):
            why = "; ".join(unfit[candidates[0].stage])
            choices[fmt] = ShipChoice(None, f"nothing shipped: the student is not fit to ship ({why})")
            continue
        candidates = [r for r in candidates if r.stage not in unfit]
        floor = ref.accuracy - max_drop
        within = [r for r in candidates if r.accuracy is not None and r.accuracy >= floor]
        if not within:
            best = max(candidates, key=lambda r: r.accuracy or 0)
            choices[fmt] = ShipChoice(None, (
                f"nothing shipped: best {fmt} accuracy {best.accuracy:.2f}% is more than {max_drop} points "
                f"below the fp32 student's {ref.accuracy:.2f}%"))
            continue
        if budget:
            meeting = [r for r in within if budget.why_not(r) is None]
            if not meeting:
                choices[fmt] = ShipChoice(None, f"nothing shipped: {budget.missed(within)}")
                continue
            pick = max(meeting, key=lambda r: (r.accuracy or 0.0, -(r.latency() or 0.0)))  # equal: the faster
            found = budget.interval(pick)
            said = [f"the most accurate file within the budget: {found[0]:.3f} ms [{found[1]:.3f}, {found[2]:.3f}] "
                    f"{budget.metric}"] if found else ["the most accurate file within the budget"]
        else:
            pick, said = _fastest(within, [c for c in speed if c.target in columns])
        why = (f"{pick.stage} ({pick.precision}) on {pick.target}: p50 {pick.latency():.3f} ms, accuracy "
               f"{pick.accuracy:.2f}% vs fp32 student "
               f"{ref.accuracy:.2f}% (allowed drop {max_drop} points)")
        choices[fmt] = ShipChoice(pick.stage, "; ".join([why, *said]), pick.precision)
    return choices


@dataclass(frozen=True)
class Budget:
    """budget: as ship judges a row: on `columns` (the budget's target at each thread count it allows), the upper
    end of the 95% interval of its latency metric within latency_ms, its files within size_kb, its memory within
    peak_rss_mb."""
    columns: tuple[str, ...]
    metric: str
    latency_ms: float | None
    size_kb: float | None
    peak_rss_mb: float | None

    def interval(self, row: ResultRow) -> tuple[float, float, float] | None:
        """The row's latency interval, its task's device post-processing (a detector's decoding) added: the
        budget bounds what the device spends on an image, as the search measured it."""
        found = latency_interval(row.timings_ms or [], self.metric)
        post = row.postprocess_ms or 0.0
        return None if found is None else tuple(ms + post for ms in found)

    def why_not(self, row: ResultRow) -> str | None:
        if self.latency_ms is not None:
            found = self.interval(row)
            if found is None:
                return "too few timings for an interval"
            if found[2] > self.latency_ms:
                return f"latency {self.latency_ms:g} ms {self.metric}"
        if self.size_kb is not None and (row.size_bytes or 0) / 1024 > self.size_kb:
            return f"size {self.size_kb:g} KB"
        if self.peak_rss_mb is not None and (row.peak_rss_mb or 0.0) > self.peak_rss_mb:
            return f"peak RSS {self.peak_rss_mb:g} MB"
        return None

    def missed(self, rows: list[ResultRow]) -> str:
        """'no file meets latency 8 ms p90 on local; fastest: 9.3 ms [9.1, 9.5] p90 at 71.2%'."""
        why = next((self.why_not(r) for r in rows if self.why_not(r)), "the budget")
        timed = [(self.interval(r), r) for r in rows if self.interval(r) is not None]
        if not timed:
            return f"no file meets {why} on {', '.join(self.columns)} (none was timed)"
        (value, low, high), row = min(timed, key=lambda pair: pair[0][0])
        at = f" on {row.target}" if len(self.columns) > 1 else ""
        return (f"no file meets {why} on {', '.join(self.columns)}; fastest: {value:.3f} ms [{low:.3f}, {high:.3f}] "
                f"{self.metric} at {row.accuracy:.2f}% ({row.stage}{at}, {(row.size_bytes or 0) / 1024:.0f} KB)")


def _fastest(within: list[ResultRow], speed: list[SpeedComparison]) -> tuple[ResultRow, list[str]]:
    """Start from the most accurate file (then the smallest); another replaces it only when measurably faster.
    Without a paired comparison, the lower single p50 decides, and the reason says so."""
    by_pair = {(c.baseline, c.candidate): c for c in speed}
    ranked = sorted(within, key=lambda r: (-(r.accuracy or 0.0), r.size_bytes or 0))
    pick, said = ranked[0], []
    for other in ranked[1:]:
        forward, backward = by_pair.get((pick.stage, other.stage)), by_pair.get((other.stage, pick.stage))
        found = next((c for c in (forward, backward) if c is not None and c.measured), None)
        if found is None:
            note = (forward or backward).note if (forward or backward) else "no paired timing of the two"
            faster = (other.latency() or float("inf")) < (pick.latency() or float("inf"))
            said.append(f"{other.stage if faster else pick.stage} had the lower single p50 "
                        f"({other.latency():.3f} vs {pick.latency():.3f} ms; not timed interleaved: {note})")
        else:
            faster = found.verdict == (FASTER if found is forward else SLOWER)
            said.append(found.sentence(found.candidate, found.baseline) +
                        (": the more accurate file ships" if found.verdict == SAME else ""))
        if faster:
            pick = other
    return pick, said


def write_ship(run_root: Path, choices: dict[str, ShipChoice], artifacts: dict[str, Artifact]) -> None:
    """Build ship/ in a temp folder and rename it into place: never a half-written ship folder."""
    write_folder_atomic(run_root / "ship", lambda tmp: _fill_ship(tmp, choices, artifacts))


def _fill_ship(tmp: Path, choices: dict[str, ShipChoice], artifacts: dict[str, Artifact]) -> None:
    sums = []
    for fmt, choice in choices.items():
        if not choice.stage:
            continue
        artifact = artifacts[choice.stage]
        dest = tmp / fmt
        dest.mkdir()
        for src in model_files(artifact.path, artifact.format):
            shutil.copy2(src, dest / src.name)
        shutil.copy2(artifact.folder / META_FILE, dest / META_FILE)
        (dest / "labels.txt").write_text("\n".join(artifact.labels) + "\n")
        (dest / "preprocessing.json").write_text(json.dumps(artifact.preprocessing, indent=2))
        (dest / "why.txt").write_text(choice.reason + "\n")
        for path in sorted(dest.iterdir()):
            sums.append(f"{file_sha256(path)}  {fmt}/{path.name}")
    (tmp / "SHA256SUMS").write_text("\n".join(sums) + "\n")
