"""edgeship device agent: load one model in its runtime, measure accuracy and latency, print one JSON object."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from .extensions import load_packaged
from .metrics import MAX_EVAL_BATCH, batched_runner, evaluate_details, load_eval_set
from .probe import peak_rss_mb, platform_info, probe
from .profilers import profile
from .runners import FORMAT_BY_SUFFIX, RUNNERS, open_runner
from .timing import around_inference, measure, measure_batches, measure_pair, measure_throughput, summarize

AROUND_INFERENCE_IMAGES = 50  # images whose pre- and post-processing are timed apart from inference


def run(args) -> dict:
    fmt = args.format or FORMAT_BY_SUFFIX.get(os.path.splitext(args.model)[1])
    result = {"model": os.path.basename(args.model), "format": fmt, "threads": args.threads,
              "platform": platform_info()}
    t0 = time.perf_counter()
    runner = open_runner(fmt, args.model, args.threads)
    loaded = time.perf_counter()
    runner(np.zeros(runner.input_shape, dtype=np.float32))  # the first inference: lazy compilation, allocation
    result.update(runtime=runner.runtime, runtime_version=runner.version, settings=runner.settings,
                  load_seconds=loaded - t0, input_shape=runner.input_shape,
                  cold_start_ms=(time.perf_counter() - t0) * 1000.0)  # load + compile + first inference
    if args.eval:
        inputs, labels, metric = load_eval_set(args.eval)
        sample = inputs[:1]
    else:
        result["accuracy"] = None
        sample = np.random.default_rng(0).standard_normal(runner.input_shape).astype(np.float32)
    if args.baseline_model:
        baseline = open_runner(fmt, args.baseline_model, args.threads)
        baseline_sample = (sample if list(sample.shape) == baseline.input_shape else
                           np.random.default_rng(0).standard_normal(baseline.input_shape).astype(np.float32))
        base_t, timings = measure_pair(baseline, runner, baseline_sample, sample, args.warmup, args.min_runs,
                                       args.min_seconds, args.max_seconds, args.slowdown)
        result.update(baseline_model=os.path.basename(args.baseline_model), baseline_timings_ms=base_t)
    else:
        timings = measure(runner, sample, args.warmup, args.min_runs, args.min_seconds, args.max_seconds,
                          args.slowdown)
    if args.slowdown:
        result["injected_slowdown"] = args.slowdown

    result.update(status="ok", runs=len(timings), latency_ms=summarize(timings), timings_ms=timings,
                  peak_rss_mb=peak_rss_mb())  # the model at batch 1: before evaluation or profiling open another
    if args.eval:
        result.update(around_inference(runner, inputs, metric, AROUND_INFERENCE_IMAGES))
        batched = batched_runner(open_runner, fmt, args.model, args.threads, runner, inputs, args.eval_batch)
        result.update(evaluate_details(runner, inputs, labels, batched, metric))
        result.update(eval_samples=int(len(inputs)), eval_batch=batched.size if batched else 1)
        del batched
    if args.batch_sizes:
        result["batches"] = measure_batches(fmt, args.model, args.threads, sample, args.batch_sizes,
                                            args.min_seconds or 0.5)
    if args.throughput:
        result["throughput"] = measure_throughput(fmt, args.model, args.threads, sample, max(args.min_seconds, 1.0))
    if args.profile:
        import tempfile

        with tempfile.TemporaryDirectory() as work_dir:
            result["profile"] = profile(fmt, args.model, args.threads, sample, args.profile, work_dir)
    return result


def main(argv=None) -> int:
    extensions = load_packaged()  # a plug-in's runners and metrics, before the choices below are listed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--probe", metavar="WORK_DIR", help="print platform, runtimes and free disk, then exit")
    parser.add_argument("--output", help="also write the JSON result to this file (a results mount)")
    parser.add_argument("--format", choices=sorted(RUNNERS))
    parser.add_argument("--eval", help="npz with 'labels' (N) or masks (N,H,W), 'metric' (top1 or miou; default "
                                       "top1) and float32 'inputs' (N,C,H,W), or uint8 'images' with the 'scale', "
                                       "'mean' and 'std' that normalize them")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-batch", type=int, default=MAX_EVAL_BATCH, help="score accuracy in batches of at most "
                        "this many images where the file takes them (1: one image at a time); timing stays at 1")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--min-runs", type=int, default=100)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--slowdown", type=float, default=0.0, help="inject this fraction of extra time per "
                        "inference (busy wait), e.g. 0.1: for proving the latency gate, never for real results")
    parser.add_argument("--batch-sizes", type=lambda text: [int(x) for x in text.split(",")], default=[],
                        help="also time these batch sizes (comma-separated), after batch 1")
    parser.add_argument("--throughput", action="store_true", help="also measure images/s with parallel requests")
    parser.add_argument("--profile", type=int, default=0, metavar="RUNS",
                        help="also profile per layer over this many runs, in a second instance of the runtime")
    parser.add_argument("--baseline-model", help="also time this model (same format), interleaved with --model "
                        "in blocks; its timings come back as baseline_timings_ms")
    args = parser.parse_args(argv)
    if not args.model and not args.probe:
        parser.error("--model or --probe is required")
    try:
        result = probe(args.probe) if args.probe else run(args)
        if extensions:
            result["extensions"] = extensions
    except Exception as err:  # one JSON object whatever happens: the host turns it into a failed row
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500]}
    text = json.dumps(result) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    sys.stdout.write(text)
    return 0 if result["status"] == "ok" else 1
