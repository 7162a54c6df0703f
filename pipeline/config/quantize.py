"""The recipe's quantize section: int8 after training from one calibration set, within an accuracy budget."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from edgeship.pipeline.config.section import Section


class CalibrationConfig(Section):
    samples: int = Field(300, ge=1)  # training images the int8 ranges are calibrated on
    sampling: Literal["stratified", "random", "all"] = "stratified"  # stratified: the same number per class
    seed: int = 0  # seeds the calibration sample
    # onnxruntime's calibration method (NNCF and PT2E use their own min/max statistics)
    method: Literal["minmax", "entropy", "percentile"] = "minmax"


class QuantizeConfig(Section):
    enabled: bool = True  # int8 files after training, from one calibration set for every format
    calibration: CalibrationConfig = CalibrationConfig()
    preset: Literal["x86-vnni", "x86-avx2", "arm64"] = "x86-vnni"  # see calibration/presets.py
    # Points of the task's metric (top-1, mIoU) an int8 model may lose against its fp32 file (same format, val split).
    max_accuracy_drop: float = Field(1.0, ge=0.0, le=100.0)
    # Over budget: rank layers by harm, keep the worst in float until the budget holds (formats/int8_budget.py).
    fallback: bool = True
    max_float_layers: int = Field(8, ge=0)  # the budget keeps at most this many layers float
    # error: quantization error of each layer alone at the model's output, in torch (one forward pass per layer);
    # sensitivity: the runtime's accuracy with each layer alone quantized (one quantize + evaluation per layer).
    ranking: Literal["error", "sensitivity"] = "error"
    max_search_seconds: float = Field(600.0, gt=0.0)  # then the best file so far ships, said so
    # The budget is judged on this many validation images: at 1000 one image is 0.1 point and a 0.3-point
    # budget passed on validation while the test split lost 0.52 (Fashion-MNIST, LiteRT).
    validation_samples: int = Field(5000, ge=10)
    # NNCF's bias correction after quantizing (OpenVINO): full (the default; nncf.quantize with
    # fast_bias_correction=False, which is the full algorithm, not "off"), fast, or none.
    bias_correction: Literal["full", "fast", "none"] = "full"
    # Weights quantized per output channel (onnxruntime; OpenVINO and LiteRT always are): per tensor loses
    # depthwise convolutions whose channels differ in range by orders of magnitude.
    per_channel: bool = True
    # The model's prediction layers (its output_layers(): a detector's last class / box convolutions) stay float,
    # as Ultralytics' OpenVINO export keeps its head; auto: the task's default (detection: yes).
    float_outputs: Literal["auto", "yes", "no"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _legacy_fast_bias_correction(cls, data: Any) -> Any:
        """Recipes written before `bias_correction`: fast_bias_correction false meant NNCF's full algorithm."""
        if isinstance(data, dict) and "fast_bias_correction" in data and "bias_correction" not in data:
            data = dict(data)
            data["bias_correction"] = "fast" if data.pop("fast_bias_correction") else "full"
        return data
