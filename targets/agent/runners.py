"""The runners: one class per runtime that loads a model file and maps a float32 batch to its outputs.

Each takes (path, threads, batch=1); a runtime is imported only when its runner is opened, so the agent needs
numpy and the one runtime of the file it runs. Calling a runner gives the model's first output (what is timed and
what one-output tasks score); `outputs(x)` gives all of them, in the file's order (a task whose metric says
`all_outputs`, e.g. boxes and scores). A runtime the agent does not know comes as an extension module
(extensions.py) that adds its runner class to RUNNERS."""
from __future__ import annotations

import sys

import numpy as np

FORMAT_BY_SUFFIX = {".onnx": "onnx", ".xml": "openvino", ".tflite": "tflite", ".pt2": "torch"}


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

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: x})


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

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        result = self.request.infer([x])
        return [result[i] for i in range(len(self.compiled.outputs))]


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
        self.outs = self.interpreter.get_output_details()
        self.out = self.outs[0]
        self.input_shape = [int(d) for d in self.inp["shape"]]
        self.settings = {"input_dtype": np.dtype(self.inp["dtype"]).name}

    def _invoke(self, x: np.ndarray) -> None:
        # Full-integer models take and give int8: quantize with the tensor's own (scale, zero point).
        scale, zero = self.inp["quantization"]
        if np.issubdtype(self.inp["dtype"], np.integer) and scale:
            info = np.iinfo(self.inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.inp["dtype"])
        self.interpreter.set_tensor(self.inp["index"], x)
        self.interpreter.invoke()

    def _get(self, out: dict) -> np.ndarray:
        y = self.interpreter.get_tensor(out["index"])
        scale, zero = out["quantization"]
        if np.issubdtype(out["dtype"], np.integer) and scale:
            y = (y.astype(np.float32) - zero) * scale
        return y

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._invoke(x)
        return self._get(self.out)

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        self._invoke(x)
        return [self._get(out) for out in self.outs]


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

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        with self.torch.no_grad():
            if len(x) == self.input_shape[0]:
                out = self.module(self.torch.from_numpy(x))
                return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]
            # The program was exported at batch 1 and guards that shape; vmap runs it over a batch of them.
            out = self.torch.vmap(self.module)(self.torch.from_numpy(x)[:, None])
            return [o[:, 0].numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.outputs(x)[0]


RUNNERS = {"onnx": OnnxRunner, "openvino": OpenVinoRunner, "tflite": TfliteRunner, "torch": TorchRunner}


def open_runner(fmt: str, path: str, threads: int = 1, batch: int = 1):
    if fmt not in RUNNERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(RUNNERS)}")
    return RUNNERS[fmt](path, threads, batch) if batch != 1 else RUNNERS[fmt](path, threads)
