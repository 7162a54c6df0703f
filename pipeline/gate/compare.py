"""`edgeship check`: every (model, format, precision, target) row of a run against a baseline.

Inputs are report.json files, run folders, or baseline files written by `edgeship baseline update` (the same
rows, raw timings included, and copies of the models). Latency is judged on baseline and candidate timed
interleaved in one agent on the row's target, when CURRENT is a run folder and the baseline's model is at hand;
otherwise on the stored timings of the two runs, whose interval must clear the threshold by the between-run
spread (statistics.across_runs), and the row says why it was not timed interleaved.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from edgeship.pipeline.config.recipe import load_recipe
from edgeship.pipeline.core.contracts.results import ResultRow
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.core.infrastructure.tables import TableView
from edgeship.pipeline.core.infrastructure.timings_file import attach_timings, write_with_timings
from edgeship.pipeline.gate.baseline_models import copy_models
from edgeship.pipeline.gate.statistics import (
    GateSettings,
    accuracy_verdict,
    across_runs,
    latency_verdict,
    memory_verdict,
    unjudged,
)
from edgeship.pipeline.gate.verdict import KEY_FIELDS, RowVerdict, Verdict, worst

BASELINE_FORMAT = "edgeship-baseline/1"


def row_key(row: ResultRow) -> tuple:
    return tuple(getattr(row, k) for k in KEY_FIELDS)


@dataclass
class Results:
    """One side of a check: its rows, its run folder (None for a file), and what it was made from."""

    path: Path
    rows: list[ResultRow]
    run_dir: Path | None
    recipe: str | None
    task: str | None

    def only_formats(self, formats: list[str], option: str = "--formats") -> Results:
        """The rows of these formats (the gate judges only what a project ships); a format no row has is an
        error naming it."""
        present = sorted({r.format for r in self.rows})
        unknown = [f for f in formats if f not in present]
        if unknown:
            raise EdgeshipError(f"{option} {unknown[0]}: {self.path} has no row of that format "
                                f"(it has {', '.join(present) or 'none'})")
        return replace(self, rows=[r for r in self.rows if r.format in formats])


def load_rows(path: str | Path) -> Results:
    path = Path(path)
    run_dir = path if path.is_dir() else None
    file = path / "report.json" if run_dir else path
    if not file.is_file():
        raise EdgeshipError(f"{path}: no report.json (run 'edgeship optimize' first)" if run_dir
                            else f"results file not found: {path}")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EdgeshipError(f"{file}: not a results file (invalid JSON: {err})") from None
    rows = data.get("results") if isinstance(data, dict) else None
    if isinstance(rows, list):
        data = attach_timings(file, data)  # the raw timings the verdict rests on, from the side file
        rows = data["results"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(k in r for k in KEY_FIELDS)
                                             for r in rows):
        raise EdgeshipError(f"{file}: not an edgeship report or baseline (no 'results' rows with "
                            f"{', '.join(KEY_FIELDS)})")
    task = data.get("task")
    if run_dir is not None and (run_dir / "recipe.yaml").is_file():
        task = load_recipe(run_dir / "recipe.yaml").task
    return Results(path, [ResultRow.from_dict(r) for r in rows], run_dir, data.get("recipe"), task)


def check_comparable(baseline: Results, current: Results) -> None:
    """A baseline of another recipe, task or target set is unusable input, not a row-by-row verdict."""
    for field in ("recipe", "task"):
        theirs, ours = getattr(baseline, field), getattr(current, field)
        if theirs and ours and theirs != ours:
            raise EdgeshipError(f"--baseline {baseline.path}: made by {field} {theirs!r}, CURRENT by {field} "
                                f"{ours!r}: not comparable")
    ok_keys = {row_key(r) for r in baseline.rows if r.ok}
    if not any(row_key(r) in ok_keys for r in current.rows):
        targets = sorted({str(r.target) for r in baseline.rows})
        ours = sorted({str(r.target) for r in current.rows})
        raise EdgeshipError(f"--baseline {baseline.path}: no row matches CURRENT (baseline targets "
                            f"{', '.join(targets) or 'none'}; current targets {', '.join(ours) or 'none'})")


def compare(baseline: list[ResultRow], current: list[ResultRow], settings: GateSettings, retimer=None) -> Verdict:
    """Verdict per row. `retimer` (remeasure.Retimer) times rows interleaved; without it every row is judged
    across runs."""
    base_by_key = {row_key(r): r for r in baseline}
    cur_by_key = {row_key(r): r for r in current}
    rows = [_judge(key, base_by_key[key], cur, settings, retimer) for key, cur in cur_by_key.items()
            if key in base_by_key and base_by_key[key].ok]
    return Verdict(settings, rows, appeared=[k for k in cur_by_key if k not in base_by_key],
                   disappeared=[k for k in base_by_key if k not in cur_by_key])


def _interleaved(key: tuple, cur: ResultRow, settings: GateSettings, retimer) -> dict:
    """Up to `looks` interleaved looks, pooled; each judged at the per-look confidence."""
    base_t: list[float] = []
    cur_t: list[float] = []
    latency: dict = {}
    for look in range(1, settings.looks + 1):
        got = retimer.pair(key, cur)
        if isinstance(got, str):
            latency = unjudged("inconclusive", got)
            break
        base_t, cur_t = base_t + list(got[0]), cur_t + list(got[1])
        latency = latency_verdict(base_t, cur_t, settings.per_look(), paired=True)
        if latency["verdict"] != "inconclusive":
            break
    return {**latency, "samples": [len(base_t), len(cur_t)], "interleaved": True, "looks": look}


def _latency(key: tuple, base: ResultRow, cur: ResultRow, settings: GateSettings, retimer) -> dict:
    if cur.emulated or base.emulated:
        return unjudged("pass", "emulated: latency not judged")
    why_not = retimer.why_not(key, cur) if retimer and settings.looks > 0 else "re-timing is off (--remeasure 0)"
    if not why_not:
        return _interleaved(key, cur, settings, retimer)
    if retimer and retimer.model(key).declared:  # the baseline promised its model: a bad baseline, not old
        return {**unjudged("inconclusive", why_not), "samples": [0, 0], "interleaved": False, "looks": 0}
    base_t, cur_t = list(base.timings_ms or []), list(cur.timings_ms or [])
    latency = across_runs(latency_verdict(base_t, cur_t, settings), settings)
    latency["reason"] += f" (timings of separate runs: {why_not})"
    return {**latency, "samples": [len(base_t), len(cur_t)], "interleaved": False, "looks": 0}


def _judge(key: tuple, base: ResultRow, cur: ResultRow, settings: GateSettings, retimer) -> RowVerdict:
    if not cur.ok:
        return RowVerdict(*key, verdict="fail", reason=f"did not run: {cur.error}")
    accuracy = accuracy_verdict(base.accuracy, cur.accuracy, settings)
    latency = _latency(key, base, cur, settings, retimer)
    memory = memory_verdict(base.peak_rss_mb, cur.peak_rss_mb, settings, cur.emulated or base.emulated)
    parts = (latency, accuracy, memory)
    verdict = worst({v["verdict"] for v in parts})
    # A passing memory check says nothing worth a line; a failing one is named like the others.
    said = [v["reason"] for v in parts if v["verdict"] == verdict and (v is not memory or verdict == "fail")]
    return RowVerdict(*key, verdict=verdict, reason="; ".join(said) or latency["reason"], latency=latency,
                      accuracy=accuracy, memory=memory)


def write_baseline(rows: list[ResultRow], out: Path, source: Path, meta: dict) -> list[dict]:
    """The current rows, raw timings in a side file (core/infrastructure/timings_file.py), and copies of their
    models, as files to commit; written atomically (models and timings first, so a baseline file never names what
    is not there)."""
    keep = (*KEY_FIELDS, "stage", "artifact_key", "status", "error", "accuracy", "latency_ms", "timings_ms",
            "emulated", "runtime", "threads", "cpu_features", "machine", "size_bytes", "peak_rss_mb", "cold_start_ms")
    kept = copy_models([{k: r.to_dict().get(k) for k in keep} for r in rows], source if source.is_dir() else None,
                       out)
    write_with_timings(out, {"format": BASELINE_FORMAT, "source": str(source), **meta, "results": kept})
    return kept


def check_view(result: Verdict) -> TableView:
    """Every judged row, then the rows that appeared or disappeared: the terminal and the CI summary show it."""
    headers = ["model", "format", "precision", "target", "verdict", "latency ratio [interval]", "accuracy change",
               "peak RSS ratio", "why"]
    view = TableView(f"edgeship check: {result.verdict.upper()}", headers,
                     right={"accuracy change", "peak RSS ratio"})
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    for r in result.rows:
        lat, acc, mem = r.latency or {}, r.accuracy or {}, r.memory or {}
        ratio = f"{lat['ratio']:.3f} [{lat['low']:.3f}, {lat['high']:.3f}]" if lat.get("low") is not None else "-"
        change = f"{-acc['drop']:+.2f}" if acc.get("drop") is not None else "-"
        rss = f"{mem['ratio']:.2f}" if mem.get("ratio") is not None else "-"
        view.add([r.model, r.format, r.precision, r.target, r.verdict, ratio, change, rss, r.reason])
        view.styles[(len(view.rows) - 1, "verdict")] = colour[r.verdict]
    for label, keys in (("appeared", result.appeared), ("disappeared", result.disappeared)):
        for key in keys:
            view.add([*key, label, "-", "-", "-",
                      "new row, not judged" if label == "appeared" else "missing from the current run"])
    return view


def markdown(result: Verdict) -> str:
    s = result.settings
    memory = s.max_memory_regression
    lines = [f"## edgeship check: {result.verdict.upper()}", "",
             f"Latency {s.metric} may grow by {s.max_latency_regression:.0%} (confidence "
             f"{s.confidence:.0%}); accuracy may drop {s.max_accuracy_drop} points"
             + (f"; peak RSS may grow by {memory:.0%}." if memory is not None else "."), ""]
    return "\n".join(lines + check_view(result).markdown())
