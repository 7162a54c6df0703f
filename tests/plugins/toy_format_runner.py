"""The device half of the toy format (tests/plugins/toy_format.py), pushed inside the agent's zipapp: a file that
onnxruntime has already optimized offline is loaded with graph optimization off, so a device does not pay for it
again. Standalone, as the agent: numpy and onnxruntime, nothing of edgeship."""
from __future__ import annotations

import numpy as np


class PreoptimizedOnnxRunner:
    def __init__(self, path: str, threads: int, batch: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_inputs()[0]
        self.input_name, self.input_shape = meta.name, [d if isinstance(d, int) else 1 for d in meta.shape]
        self.runtime, self.version, self.settings = "onnxruntime", ort.__version__, {"graph_optimization": "off"}

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: x})

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.outputs(x)[0]


RUNNERS = {"onnx-preoptimized": PreoptimizedOnnxRunner}
