"""The edgeship device agent: load one model in its runtime, measure accuracy and latency, print one JSON object.

Standalone on purpose: it needs numpy and one runtime (onnxruntime, openvino, ai_edge_litert / tflite_runtime /
tensorflow.lite, or torch for .pt2 programs), never the rest of edgeship. Its modules import one another
relatively, so the same package runs on the host (edgeship.targets.agent) and on a board, where it travels as one
zipapp (targets/agent_zipapp.py builds it): `python agent.pyz --model m.onnx --eval eval.npz`.
"""
from .metrics import (
                      IGNORE_INDEX,
                      METRICS,
                      Ragged,
                      batched_runner,
                      confusion_update,
                      evaluate,
                      evaluate_details,
                      load_eval_set,
                      segmentation_scores,
)
from .profilers import PROFILERS, profile
from .runners import FORMAT_BY_SUFFIX, RUNNERS, open_runner
from .timing import measure, measure_pair, summarize

__all__ = ["FORMAT_BY_SUFFIX", "IGNORE_INDEX", "METRICS", "PROFILERS", "RUNNERS", "Ragged", "batched_runner",
           "confusion_update", "evaluate", "evaluate_details", "load_eval_set", "measure", "measure_pair",
           "open_runner", "profile", "segmentation_scores", "summarize"]
