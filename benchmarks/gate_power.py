#!/usr/bin/env python3
"""Does the latency gate cry wolf, and does it sleep? False alarms on A/A comparisons and detection rates of
injected slowdowns, with a real model in onnxruntime on this (noisy, shared, 2-core) machine.

One check = what `edgeship check --remeasure` does on a local target: one agent process times baseline and
candidate interleaved in blocks (A B B A ...), and pipeline.gate judges the block-bootstrap interval of the
ratio of medians; an inconclusive check is measured again, up to --remeasure times. Slowdowns are injected
by the agent's --slowdown (a busy wait of that fraction of each inference's own time). Prints the table;
--out DIR writes DIR/gate.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from pipeline.gate.statistics import GateSettings, latency_verdict  # noqa: E402
from pipeline.models.zoo import build_model  # noqa: E402
from targets.base import BenchRequest  # noqa: E402
from targets.local import LocalTarget  # noqa: E402


def export_model(folder: Path) -> Path:
    """A CIFAR ResNet-20 (width 16), about a millisecond per image in onnxruntime on one thread here."""
    torch.manual_seed(0)
    model = build_model("cifar_resnet20", 10, 3, 32, {"width": 16}).eval()
    path = folder / "resnet20.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 32, 32),), str(path), input_names=["input"], dynamo=False,
                      opset_version=17)
    return path


def one_check(target: LocalTarget, model: Path, slowdown: float, settings: GateSettings, seconds: float,
              remeasure: int, seed: int) -> dict:
    base, cur = [], []
    request = BenchRequest(eval_npz=None, warmup=20, min_runs=100, min_seconds=seconds, max_seconds=seconds * 4,
                           slowdown=slowdown, baseline_model=model)

    def measure_both():
        result = target.bench_many([(model, "onnx")], request)[0]
        if result.get("status") != "ok":
            raise RuntimeError(result.get("error"))
        base.extend(result["baseline_timings_ms"])
        cur.extend(result["timings_ms"])

    start = time.monotonic()
    measure_both()
    verdict = latency_verdict(base, cur, settings, seed=seed, paired=True)
    extra = 0
    while verdict["verdict"] == "inconclusive" and extra < remeasure:
        measure_both()
        extra += 1
        verdict = latency_verdict(base, cur, settings, seed=seed, paired=True)
    return {**verdict, "seconds": time.monotonic() - start, "extra_rounds": extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-trials", type=int, default=100)
    parser.add_argument("--trials", type=int, default=20, help="trials per injected slowdown")
    parser.add_argument("--threshold", default=0.05, type=float,
                        help="max latency regression the gate allows (fraction; default 0.05)")
    parser.add_argument("--confidence", type=float, default=0.99)
    parser.add_argument("--seconds", type=float, default=1.0, help="interleaved measurement per check")
    parser.add_argument("--remeasure", type=int, default=2, help="extra measurements for an inconclusive check")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = GateSettings(max_latency_regression=args.threshold, confidence=args.confidence)
    target = LocalTarget()
    with tempfile.TemporaryDirectory() as tmp:
        model = export_model(Path(tmp))
        print(f"model {model.name}; gate: fail above {args.threshold:.0%} slower at {args.confidence:.0%} "
              f"confidence; {args.seconds} s of interleaved timing per check, up to {args.remeasure} more",
              flush=True)
        plan = [(0.0, args.aa_trials)] + [(s, args.trials) for s in (0.05, 0.10, 0.20)]
        outcomes: dict[float, list[dict]] = {}
        for slowdown, trials in plan:
            outcomes[slowdown] = []
            for trial in range(trials):
                check = one_check(target, model, slowdown, settings, args.seconds, args.remeasure, seed=trial)
                outcomes[slowdown].append(check)
            checks = outcomes[slowdown]
            counts = {v: sum(c["verdict"] == v for c in checks) for v in ("pass", "fail", "inconclusive")}
            ratios = sorted(c["ratio"] for c in checks)
            print(f"slowdown {slowdown:4.0%}: {trials} checks: {counts['fail']} fail, {counts['pass']} pass, "
                  f"{counts['inconclusive']} inconclusive; measured ratio median {ratios[len(ratios) // 2]:.3f} "
                  f"(range {ratios[0]:.3f}-{ratios[-1]:.3f})", flush=True)
    aa = outcomes[0.0]
    detection = {f"{int(s * 100)}": sum(c["verdict"] == "fail" for c in outcomes[s]) / len(outcomes[s])
                 for s in (0.05, 0.10, 0.20)}
    seconds = [c["seconds"] for checks in outcomes.values() for c in checks]
    summary = {"aa_trials": len(aa), "false_alarms": sum(c["verdict"] == "fail" for c in aa),
               "inconclusive": sum(c["verdict"] == "inconclusive" for c in aa), "detection": detection,
               "seconds_per_check": sum(seconds) / len(seconds), "threshold": args.threshold,
               "confidence": args.confidence}
    print()
    print(f"{'case':<22}{'checks':>7}{'result':>28}")
    print(f"{'A/A (no change)':<22}{len(aa):>7}{summary['false_alarms']:>6} false alarms, "
          f"{summary['inconclusive']} inconclusive")
    for s in (0.05, 0.10, 0.20):
        print(f"{f'{s:.0%} slower':<22}{len(outcomes[s]):>7}{detection[str(int(s * 100))]:>10.0%} detected")
    print(f"\none check measures for {summary['seconds_per_check']:.1f} s on average "
          f"(goals: false alarms <= 1 in 100, detection >= 95% at 10%, 100% at 20%)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gate.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
