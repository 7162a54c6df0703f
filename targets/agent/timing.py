"""Latency: per-iteration timings of one model, two models interleaved, batch sizes and throughput."""
from __future__ import annotations

import time

import numpy as np

from .metrics import metric_named, raw_outputs
from .runners import OpenVinoRunner, open_runner


def _timed(runner, sample: np.ndarray, slowdown: float) -> float:
    """One inference in ms. slowdown > 0 busy-waits that fraction of the inference's own time after it: a known
    regression, used to prove that the latency gate catches it (benchmarks/gate_power.py), never in real runs."""
    t0 = time.perf_counter_ns()
    runner(sample)
    if slowdown:
        until = t0 + (time.perf_counter_ns() - t0) * (1.0 + slowdown)
        while time.perf_counter_ns() < until:
            pass
    return (time.perf_counter_ns() - t0) / 1e6


def measure(runner, sample: np.ndarray, warmup: int, min_runs: int, min_seconds: float, max_seconds: float,
            slowdown: float = 0.0):
    """Per-iteration latencies (ms): warm-up, then at least min_runs and min_seconds, at most max_seconds."""
    for _ in range(warmup):
        runner(sample)
    timings = []
    start = time.perf_counter()
    while True:
        timings.append(_timed(runner, sample, slowdown))
        elapsed = time.perf_counter() - start
        if (len(timings) >= min_runs and elapsed >= min_seconds) or elapsed >= max_seconds:
            return timings


def measure_pair(baseline, runner, baseline_sample: np.ndarray, sample: np.ndarray, warmup: int, min_runs: int,
                 min_seconds: float, max_seconds: float, slowdown: float = 0.0, block: int = 10):
    """Baseline and candidate interleaved in blocks (A B B A A B ...), so drift and neighbours hit both alike."""
    for _ in range(warmup):
        baseline(baseline_sample)
        runner(sample)
    base_t, cur_t = [], []
    sides = [(baseline, baseline_sample, base_t, 0.0), (runner, sample, cur_t, slowdown)]
    start = time.perf_counter()
    while True:
        for model, x, out, slow in sides:
            out.extend(_timed(model, x, slow) for _ in range(block))
        sides.reverse()  # whoever went second goes first next time
        elapsed = time.perf_counter() - start
        if (len(cur_t) >= min_runs and elapsed >= min_seconds) or elapsed >= max_seconds:
            return base_t, cur_t


def summarize(timings: list[float]) -> dict:
    arr = np.asarray(timings)
    return {"p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90)),
            "p99": float(np.percentile(arr, 99)), "mean": float(arr.mean()), "std": float(arr.std()),
            "min": float(arr.min()), "max": float(arr.max())}


def measure_batches(fmt: str, path: str, threads: int, sample: np.ndarray, sizes: list[int],
                    seconds: float) -> dict:
    """Latency per batch and images per second, per batch size: a size the model's input cannot take (a static
    batch dimension) is a note in its entry, never a failed row."""
    out = {}
    for size in sizes:
        try:
            runner = open_runner(fmt, path, threads, size)
            timings = measure(runner, np.repeat(sample, size, axis=0), 3, 10, seconds, max(seconds * 5, 5.0))
            p50 = float(np.percentile(timings, 50))
            out[str(size)] = {"p50_ms": p50, "images_per_s": size * 1000.0 / p50, "runs": len(timings)}
        except Exception as err:
            out[str(size)] = {"error": f"batch {size}: {type(err).__name__}: {err}".splitlines()[0][:300]}
    return out


def measure_throughput(fmt: str, path: str, threads: int, sample: np.ndarray, seconds: float) -> dict:
    """Images per second with parallel requests (OpenVINO's THROUGHPUT hint: streams, an async request queue)."""
    if fmt != "openvino":
        return {"note": f"throughput mode: OpenVINO only (not {fmt})"}
    from openvino import AsyncInferQueue

    runner = OpenVinoRunner(path, threads, hint="THROUGHPUT")
    queue = AsyncInferQueue(runner.compiled)
    for _ in range(len(queue)):  # warm every request once
        queue.start_async([sample])
    queue.wait_all()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        queue.start_async([sample])
        done += 1
    queue.wait_all()
    elapsed = time.perf_counter() - start
    return {"images_per_s": done / elapsed, "requests": len(queue),
            "streams": int(runner.compiled.get_property("NUM_STREAMS"))}


def around_inference(runner, inputs, metric: str, count: int) -> dict:
    """Per image, in ms, what the device does around inference, timed apart over the first `count` images:
    preprocessing (the eval set's uint8 image made a model input) and the task's post-processing (its metric's
    `postprocess`, e.g. decoding boxes; None where it has none). Inference itself is latency_ms."""
    meter = metric_named(metric)()
    post = getattr(meter, "postprocess", None)
    pre_t, post_t = [], []
    for i in range(min(count, len(inputs))):
        t0 = time.perf_counter_ns()
        x = inputs[i:i + 1]
        t1 = time.perf_counter_ns()
        out = raw_outputs(runner, x, meter)
        if post:
            t2 = time.perf_counter_ns()
            post(out)
            post_t.append((time.perf_counter_ns() - t2) / 1e6)
        pre_t.append((t1 - t0) / 1e6)
    return {"preprocess_ms": summarize(pre_t) if pre_t else None,
            "postprocess_ms": summarize(post_t) if post_t else None}
