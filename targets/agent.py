#!/usr/bin/env python3
"""edgeship device agent: load one model in its runtime, measure accuracy and latency, print one JSON object.

Standalone on purpose: it needs numpy and one runtime (onnxruntime, openvino, ai_edge_litert / tflite_runtime /
tensorflow.lite, or torch for .pt2 programs), never the rest of edgeship, so it can be copied to a board.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

FORMAT_BY_SUFFIX = {".onnx": "onnx", ".xml": "openvino", ".tflite": "tflite", ".pt2": "torch"}
CPU_FEATURES = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                "amx_int8", "amx_bf16", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2")


class OnnxRunner:
    def __init__(self, path: str, threads: int, batch: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_inputs()[0]
        self.input_name, self.input_shape = meta.name, [d if isinstance(d, int) else 1 for d in meta.shape]
        self.runtime, self.version, self.settings = "onnxruntime", ort.__version__, {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]


class OpenVinoRunner:
    def __init__(self, path: str, threads: int, batch: int = 1, hint: str = "LATENCY", perf_count: bool = False):
        import openvino as ov

        core = ov.Core()
        # f32 explicitly: on AMX machines OpenVINO would silently run bf16 (f16 on ARM).
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": "f32",
                  **({"PERF_COUNT": True} if perf_count else {})}
        model = core.read_model(path)
        if batch != 1:
            shape = [int(d) for d in model.input(0).get_partial_shape().get_min_shape()]
            model.reshape({model.input(0): [batch, *shape[1:]]})
        self.compiled = core.compile_model(model, "CPU", config)
        self.input_shape = [int(d) for d in self.compiled.input(0).get_partial_shape().get_min_shape()]
        self.request = self.compiled.create_infer_request()
        self.runtime, self.version = "openvino", ov.__version__
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.settings = {"inference_precision": getattr(precision, "type_name", str(precision))}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.request.infer([x])[0]


def _tflite_interpreter():
    for module, runtime in (("ai_edge_litert.interpreter", "ai-edge-litert"), ("tflite_runtime.interpreter",
                            "tflite-runtime"), ("tensorflow.lite", "tensorflow")):
        try:
            mod = __import__(module, fromlist=["Interpreter"])
            version = getattr(sys.modules[module.split(".")[0]], "__version__", "unknown")
            return mod.Interpreter, runtime, version
        except ImportError:
            continue
    raise ImportError("no TFLite runtime: install ai-edge-litert, tflite-runtime or tensorflow")


class TfliteRunner:
    def __init__(self, path: str, threads: int, batch: int = 1):
        interpreter_cls, self.runtime, self.version = _tflite_interpreter()
        self.interpreter = interpreter_cls(model_path=path, num_threads=threads)
        if batch != 1:
            shape = list(self.interpreter.get_input_details()[0]["shape"])
            self.interpreter.resize_tensor_input(self.interpreter.get_input_details()[0]["index"], [batch, *shape[1:]])
        self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]
        self.input_shape = [int(d) for d in self.inp["shape"]]
        self.settings = {"input_dtype": np.dtype(self.inp["dtype"]).name}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # Full-integer models take and give int8: quantize with the tensor's own (scale, zero point).
        scale, zero = self.inp["quantization"]
        if np.issubdtype(self.inp["dtype"], np.integer) and scale:
            info = np.iinfo(self.inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.inp["dtype"])
        self.interpreter.set_tensor(self.inp["index"], x)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.out["index"])
        scale, zero = self.out["quantization"]
        if np.issubdtype(self.out["dtype"], np.integer) and scale:
            y = (y.astype(np.float32) - zero) * scale
        return y


class TorchRunner:
    def __init__(self, path: str, threads: int, batch: int = 1):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        program = torch.export.load(path)
        self.module = program.module()
        spec = program.graph_signature.user_inputs[0]
        node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == spec)
        self.input_shape = [int(d) for d in node.meta["val"].shape]
        self.runtime, self.version, self.settings = "torch", torch.__version__, {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(x)).numpy()


INT8_TYPES = ("int8", "uint8")
CONVERSION_OPS = {"QuantizeLinear", "DequantizeLinear", "QUANTIZE", "DEQUANTIZE", "Reorder", "Convert"}


def _layer(name: str, op: str, kernel: str, precision: str, ms: float | None) -> dict:
    if op in CONVERSION_OPS:
        precision = "convert"  # moving between int8 and float: neither side's compute
    return {"name": name[:120], "type": op, "kernel": kernel, "precision": precision, "ms": ms}


def profile_onnx(path: str, threads: int, sample: np.ndarray, runs: int, work_dir: str) -> dict:
    """onnxruntime session profiling: per node, its kernel time (averaged over runs) and input types."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.enable_profiling, opts.profile_file_prefix = True, os.path.join(work_dir, "ort-profile")
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: sample}
    for _ in range(runs):
        session.run(None, feed)
    trace = session.end_profiling()
    with open(trace) as handle:
        events = json.load(handle)
    os.remove(trace)
    layers: dict[str, dict] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        args = e.get("args") or {}
        types = [t for shape in args.get("input_type_shape", []) for t in shape]
        name = e["name"][: -len("_kernel_time")]
        layer = layers.setdefault(name, _layer(name, args.get("op_name", "?"), args.get("provider", "?"),
                                               "int8" if any(t in INT8_TYPES for t in types) else "float", 0.0))
        layer["ms"] += e.get("dur", 0) / 1000.0 / runs
    return {"source": f"onnxruntime {ort.__version__} session profiling", "layers": list(layers.values())}


def profile_openvino(path: str, threads: int, sample: np.ndarray, runs: int, work_dir: str) -> dict:
    """OpenVINO performance counters: per executed node, its kernel (exec type, e.g. brgconv_avx512_amx_I8)."""
    import openvino as ov

    request = OpenVinoRunner(path, threads, perf_count=True).request  # the runner's settings, counters on
    layers: dict[str, dict] = {}
    for _ in range(runs):
        request.infer([sample])
        for info in request.get_profiling_info():
            if info.status != info.Status.EXECUTED:
                continue
            kernel = info.exec_type
            precision = ("int8" if kernel.upper().endswith(("I8", "U8")) else "bf16" if "BF16" in kernel.upper()
                         else "float")
            layer = layers.setdefault(info.node_name, _layer(info.node_name, info.node_type, kernel, precision, 0.0))
            layer["ms"] += info.real_time.total_seconds() * 1000.0 / runs
    return {"source": f"openvino {ov.__version__} performance counters", "layers": list(layers.values())}


def profile_tflite(path: str, threads: int, sample: np.ndarray, runs: int, work_dir: str) -> dict:
    """The model's ops and their input types; no time: the Python LiteRT runtime has no op profiler."""
    interpreter_cls, runtime, version = _tflite_interpreter()
    interpreter = interpreter_cls(model_path=path, num_threads=threads)
    tensors = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    layers = []
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the one way to list a model's ops from Python
        types = [tensors.get(i) for i in op["inputs"] if i >= 0]
        precision = "int8" if types and types[0] in INT8_TYPES else "float"
        layers.append(_layer(f"{op['op_name']}#{op['index']}", op["op_name"], "builtin", precision, None))
    return {"source": f"{runtime} {version} op list", "layers": layers,
            "note": f"{runtime} {version} has no per-op profiler in Python: op types and precisions only "
                    "(per-op time: LiteRT's C++ benchmark_model --enable_op_profiling on the board)"}


PROFILERS = {"onnx": profile_onnx, "openvino": profile_openvino, "tflite": profile_tflite}


def profile(fmt: str, path: str, threads: int, sample: np.ndarray, runs: int, work_dir: str) -> dict:
    """Where the time goes, from the runtime's own profiler (in a second instance: profiling slows inference),
    with the share of time spent in int8 kernels. A runtime without a profiler is a note, never a failure."""
    if fmt not in PROFILERS:
        return {"note": f"no profiler for {fmt}"}
    try:
        found = PROFILERS[fmt](path, threads, sample, runs, work_dir)
    except Exception as err:  # an older runtime without the API: say so in the row
        return {"note": f"profiling failed: {type(err).__name__}: {err}".splitlines()[0][:300]}
    timed = [layer for layer in found["layers"] if layer["ms"] is not None]
    total = sum(layer["ms"] for layer in timed)
    found.update(runs=runs, total_ms=total if timed else None,
                 int8_time_share=(sum(x["ms"] for x in timed if x["precision"] == "int8") / total) if total else None,
                 int8_layers=sum(x["precision"] == "int8" for x in found["layers"]),
                 float_layers=sum(x["precision"] in ("float", "bf16") for x in found["layers"]))
    found["layers"] = sorted(found["layers"], key=lambda x: -(x["ms"] or 0.0))
    return found


RUNNERS = {"onnx": OnnxRunner, "openvino": OpenVinoRunner, "tflite": TfliteRunner, "torch": TorchRunner}


def open_runner(fmt: str, path: str, threads: int = 1, batch: int = 1):
    if fmt not in RUNNERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(RUNNERS)}")
    return RUNNERS[fmt](path, threads, batch) if batch != 1 else RUNNERS[fmt](path, threads)


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


def cpu_features() -> list[str]:
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return [f for f in CPU_FEATURES if f in flags]


IGNORE_INDEX = 255  # mask pixels with this value count nowhere (VOC's border, unlabelled areas)


def confusion_update(confusion: np.ndarray, predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Add one prediction's pixels to a (K, K) confusion matrix (rows: truth, columns: prediction)."""
    classes = confusion.shape[0]
    keep = target != IGNORE_INDEX
    truth = target[keep].astype(np.int64)
    if truth.size and truth.max() >= classes:
        raise ValueError(f"mask class {int(truth.max())} is not below the model's {classes} output classes")
    confusion += np.bincount(truth * classes + predicted[keep].astype(np.int64),
                             minlength=classes * classes).reshape(classes, classes)
    return confusion


def segmentation_scores(confusion: np.ndarray) -> dict:
    """mIoU over the classes that occur (in truth or prediction), pixel accuracy and per-class IoU, in percent."""
    hits = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - hits
    present = union > 0
    iou = np.where(present, hits / np.maximum(union, 1), np.nan) * 100.0
    return {"miou": float(np.nanmean(iou)) if present.any() else float("nan"),
            "pixel_accuracy": float(hits.sum() / max(1, confusion.sum()) * 100.0),
            "per_class_iou": [None if np.isnan(v) else round(float(v), 3) for v in iou]}


def evaluate_details(runner, inputs: np.ndarray, labels: np.ndarray) -> dict:
    """The task's metric on the device: top-1 for one label per image; for masks (N, H, W), mIoU from a
    confusion matrix streamed image by image (argmax per pixel here, so no full-size output leaves the device)."""
    if labels.ndim == 1:
        correct = sum(int(np.argmax(runner(inputs[i:i + 1])) == labels[i]) for i in range(len(inputs)))
        return {"accuracy": correct / max(1, len(inputs)) * 100.0}
    confusion = None
    for i in range(len(inputs)):
        scores = runner(inputs[i:i + 1])[0]  # (K, H, W)
        if confusion is None:
            confusion = np.zeros((scores.shape[0], scores.shape[0]), dtype=np.int64)
        confusion_update(confusion, scores.argmax(0), labels[i])
    scores = segmentation_scores(confusion if confusion is not None else np.zeros((1, 1), np.int64))
    return {"accuracy": scores["miou"], "segmentation": scores}


def evaluate(runner, inputs: np.ndarray, labels: np.ndarray) -> float:
    return evaluate_details(runner, inputs, labels)["accuracy"]


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


def runtime_versions() -> dict:
    """Which runtimes import here, with their versions (None when missing)."""
    versions = {}
    for name, module in (("onnxruntime", "onnxruntime"), ("openvino", "openvino"), ("torch", "torch")):
        try:
            versions[name] = __import__(module).__version__
        except Exception:  # a broken install is as unusable as a missing one
            versions[name] = None
    try:
        _, runtime, version = _tflite_interpreter()
        versions["tflite"] = f"{runtime} {version}"
    except Exception:
        versions["tflite"] = None
    return versions


def platform_info() -> dict:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"machine": platform.machine(), "system": platform.system(), "python": platform.python_version(),
            "cpu_features": cpu_features(), "cpu_count": os.cpu_count(), "cpu_affinity": affinity}


def probe(work_dir: str) -> dict:
    """What `edgeship targets check` shows: the device's platform, runtimes and free disk."""
    stat = os.statvfs(work_dir)
    return {"status": "ok", "platform": platform_info(), "runtimes": runtime_versions(),
            "free_disk_mb": stat.f_bavail * stat.f_frsize // 2**20, "numpy": np.__version__}


class NormalizedImages:
    """uint8 images made model inputs one slice at a time: memory holds the uint8 set, never a float32 copy of it
    (10k images at 224 px: 1.5 GB as uint8, 6 GB as float32)."""

    def __init__(self, images: np.ndarray, scale, mean: np.ndarray, std: np.ndarray):
        shape = (1, -1, 1, 1)
        self.images, self.scale = images, np.float32(scale)
        self.mean, self.std = mean.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> np.ndarray:
        return ((self.images[index].astype(np.float32) * self.scale - self.mean) / self.std).astype(np.float32)


def load_eval_set(path: str):
    """float32 'inputs', or uint8 'images' with the 'scale', 'mean' and 'std' that make them model inputs."""
    with np.load(path) as data:
        if "inputs" in data:
            return data["inputs"].astype(np.float32), data["labels"]
        return NormalizedImages(data["images"], data["scale"], data["mean"], data["std"]), data["labels"]


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
        inputs, labels = load_eval_set(args.eval)
        result.update(evaluate_details(runner, inputs, labels))
        result["eval_samples"] = int(len(inputs))
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
                  peak_rss_mb=peak_rss_mb())  # before profiling loads a second instance
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


def peak_rss_mb() -> float | None:
    """The agent process's peak resident memory (runtime, model, buffers). Linux: VmHWM, which starts afresh at
    exec (ru_maxrss would keep the forking parent's peak); elsewhere ru_maxrss."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--probe", metavar="WORK_DIR", help="print platform, runtimes and free disk, then exit")
    parser.add_argument("--output", help="also write the JSON result to this file (a results mount)")
    parser.add_argument("--format", choices=sorted(RUNNERS))
    parser.add_argument("--eval", help="npz with 'labels' (N) or masks (N,H,W) and float32 'inputs' (N,C,H,W), or "
                                       "uint8 'images' with the 'scale', 'mean' and 'std' that normalize them")
    parser.add_argument("--threads", type=int, default=1)
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
    except Exception as err:  # one JSON object whatever happens: the host turns it into a failed row
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0][:500]}
    text = json.dumps(result) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    sys.stdout.write(text)
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
