"""The one table of formats: export, quantize and bench all look formats up here."""
from __future__ import annotations

from types import ModuleType

from pipeline.formats import onnx, openvino, tflite

FORMATS: dict[str, ModuleType] = {"onnx": onnx, "tflite": tflite, "openvino": openvino}
