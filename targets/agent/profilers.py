"""Where the time goes, per layer, from each runtime's own profiler."""
from __future__ import annotations

import json
import os

import numpy as np

from .runners import OpenVinoRunner, _tflite_interpreter

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
