"""`edgeship check`: every (model, format, precision, target) row of a run against a baseline.

Inputs are report.json files, run folders, or baseline files written by `edgeship baseline update` (the same
rows, raw timings included). Rows judged inconclusive can be measured again when CURRENT is a run folder: the
artifact is benched once more on its target and the new timings join the old ones (and the baseline's too,
interleaved, when the baseline is a run folder that still has its model).
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.atomic import write_json_atomic
from pipeline.core.errors import EdgeshipError
from pipeline.core.tables import TableView
from pipeline.gate.statistics import GateSettings, accuracy_verdict, latency_verdict

KEY_FIELDS = ("model", "format", "precision", "target")
BASELINE_FORMAT = "edgeship-baseline/1"


def row_key(row: dict) -> tuple:
    return tuple(row.get(k) for k in KEY_FIELDS)


def load_rows(path: str | Path) -> tuple[list[dict], Path | None]:
    """The result rows and, for a run folder, the folder (so rows can be measured again)."""
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
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(k in r for k in KEY_FIELDS)
                                             for r in rows):
        raise EdgeshipError(f"{file}: not an edgeship report or baseline (no 'results' rows with "
                            f"{', '.join(KEY_FIELDS)})")
    return rows, run_dir


def compare(baseline: list[dict], current: list[dict], settings: GateSettings, remeasure=None,
            rounds: int = 0) -> dict:
    """Verdict per row; `remeasure(key)` returns (more baseline timings, more current timings, interleaved?)."""
    base_by_key = {row_key(r): r for r in baseline}
    cur_by_key = {row_key(r): r for r in current}
    rows = []
    for key, cur in cur_by_key.items():
        base = base_by_key.get(key)
        if base is None or base.get("status") != "ok":
            continue
        rows.append(_judge(key, base, cur, settings, remeasure, rounds))
    appeared = [dict(zip(KEY_FIELDS, k)) for k in cur_by_key if k not in base_by_key]
    disappeared = [dict(zip(KEY_FIELDS, k)) for k in base_by_key if k not in cur_by_key]
    verdicts = {r["verdict"] for r in rows}
    overall = "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    return {"verdict": overall, "settings": vars(settings), "rows": rows, "appeared": appeared,
            "disappeared": disappeared}


def _judge(key: tuple, base: dict, cur: dict, settings: GateSettings, remeasure, rounds: int) -> dict:
    out = dict(zip(KEY_FIELDS, key))
    if cur.get("status") != "ok":
        return {**out, "verdict": "fail", "latency": None, "accuracy": None,
                "reason": f"did not run: {cur.get('error')}"}
    accuracy = accuracy_verdict(base.get("accuracy"), cur.get("accuracy"), settings)
    if cur.get("emulated") or base.get("emulated"):
        latency = {"verdict": "pass", "ratio": None, "low": None, "high": None,
                   "reason": "emulated: latency not judged"}
    else:
        base_t, cur_t = list(base.get("timings_ms") or []), list(cur.get("timings_ms") or [])
        latency = latency_verdict(base_t, cur_t, settings)
        paired: tuple[list, list] = ([], [])
        for _ in range(rounds if remeasure else 0):
            if latency["verdict"] != "inconclusive":
                break
            more_base, more_cur, is_pair = remeasure(key)
            if is_pair:  # interleaved timings beat stored ones: judge on those alone
                paired = (paired[0] + more_base, paired[1] + more_cur)
                base_t, cur_t = paired
            else:
                base_t, cur_t = base_t + more_base, cur_t + more_cur
            latency = latency_verdict(base_t, cur_t, settings, paired=is_pair)
        latency["samples"] = [len(base_t), len(cur_t)]
        latency["interleaved"] = bool(paired[0])
    verdicts = {latency["verdict"], accuracy["verdict"]}
    verdict = "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    reason = "; ".join(v["reason"] for v in (latency, accuracy) if v["verdict"] == verdict) or latency["reason"]
    return {**out, "verdict": verdict, "latency": latency, "accuracy": accuracy, "reason": reason}


def write_baseline(rows: list[dict], out: Path, source: str) -> None:
    """The current rows, raw timings included, as a file to commit; written atomically."""
    keep = (*KEY_FIELDS, "stage", "status", "error", "accuracy", "latency_ms", "timings_ms", "emulated", "runtime",
            "threads", "cpu_features", "machine", "size_bytes")
    write_json_atomic(out, {"format": BASELINE_FORMAT, "source": source,
                            "results": [{k: r.get(k) for k in keep} for r in rows]})


def check_view(result: dict) -> TableView:
    """Every judged row, then the rows that appeared or disappeared: the terminal and the CI summary show it."""
    headers = ["model", "format", "precision", "target", "verdict", "latency ratio [interval]", "accuracy change",
               "why"]
    view = TableView(f"edgeship check: {result['verdict'].upper()}", headers, right={"accuracy change"})
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    for r in result["rows"]:
        lat, acc = r.get("latency") or {}, r.get("accuracy") or {}
        ratio = f"{lat['ratio']:.3f} [{lat['low']:.3f}, {lat['high']:.3f}]" if lat.get("low") is not None else "-"
        change = f"{-acc['drop']:+.2f}" if acc.get("drop") is not None else "-"
        view.add([r["model"], r["format"], r["precision"], r["target"], r["verdict"], ratio, change, r["reason"]])
        view.styles[(len(view.rows) - 1, "verdict")] = colour[r["verdict"]]
    for label in ("appeared", "disappeared"):
        for r in result[label]:
            view.add([r["model"], r["format"], r["precision"], r["target"], label, "-", "-",
                      "new row, not judged" if label == "appeared" else "missing from the current run"])
    return view


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"## edgeship check: {result['verdict'].upper()}", "",
             f"Latency {s['metric']} may grow by {s['max_latency_regression']:.0%} (confidence "
             f"{s['confidence']:.0%}); accuracy may drop {s['max_accuracy_drop']} points.", ""]
    return "\n".join(lines + check_view(result).markdown())
