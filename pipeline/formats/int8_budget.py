"""Int8 within an accuracy budget: one algorithm for every backend.

Quantize everything; if the int8 file loses more than `max_accuracy_drop` points against its fp32 file on the
validation split, rank the layers by the drop each one causes when it is the only quantized layer, then keep
the worst layers in float, one more at a time, until the budget holds or `max_float_layers` is reached.
Backends only say what their layers are called and how to quantize while leaving some out.
"""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from calibration.calibration_set import CalibrationSet
from pipeline.core.formats import Format, runner_of
from targets.agent import evaluate, open_runner

FINAL_NAME = "model-int8"


@dataclass
class Int8Outcome:
    file: str
    fp32_accuracy: float
    int8_accuracy: float
    drop: float
    budget: float
    within_budget: bool
    float_layers: list[str] = field(default_factory=list)
    sensitivity: list[dict] = field(default_factory=list)  # [{layer, drop_alone}], most sensitive first
    validation_samples: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def accuracy_of(fmt: str, path: Path, inputs: np.ndarray, labels: np.ndarray) -> float:
    return evaluate(open_runner(runner_of(fmt), str(path), threads=1), inputs, labels)


def _remove_model(out: Path, name: str) -> None:
    for path in out.glob(f"{name}.*"):
        path.unlink()


def quantize_within_budget(backend: Format, fmt: str, fp32_path: Path, model: torch.nn.Module,
                           example: torch.Tensor, calib: CalibrationSet, out: Path, qcfg,
                           val_inputs: np.ndarray, val_labels: np.ndarray) -> Int8Outcome:
    def quantize(exclude: list[str], name: str) -> Path:
        return out / backend.quantize(fp32_path, model, example, calib, out, qcfg, exclude, name)

    def measure(path: Path) -> float:
        return accuracy_of(fmt, path, val_inputs, val_labels)

    budget = qcfg.max_accuracy_drop
    fp32_acc = measure(fp32_path)
    path = quantize([], FINAL_NAME)
    acc = measure(path)
    outcome = Int8Outcome(path.name, fp32_acc, acc, fp32_acc - acc, budget, fp32_acc - acc <= budget,
                          validation_samples=len(val_inputs))
    if outcome.within_budget or not qcfg.fallback or qcfg.max_float_layers == 0:
        backend.cleanup(out)
        return outcome

    layers = backend.layers(fp32_path, model, out)
    trials = out / "trials"
    trials.mkdir(exist_ok=True)
    for layer in layers:
        trial = out / "trials" / backend.quantize(fp32_path, model, example, calib, trials, qcfg,
                                                  [other for other in layers if other != layer], "alone")
        outcome.sensitivity.append({"layer": layer, "drop_alone": fp32_acc - measure(trial)})
        _remove_model(trials, "alone")
    shutil.rmtree(trials, ignore_errors=True)
    outcome.sensitivity.sort(key=lambda row: -row["drop_alone"])

    kept: list[str] = []
    for row in outcome.sensitivity[: qcfg.max_float_layers]:
        kept.append(row["layer"])
        _remove_model(out, FINAL_NAME)
        path = quantize(kept, FINAL_NAME)
        acc = measure(path)
        if fp32_acc - acc <= budget:
            break
    outcome.file, outcome.int8_accuracy, outcome.float_layers = path.name, acc, kept
    outcome.drop, outcome.within_budget = fp32_acc - acc, fp32_acc - acc <= budget
    backend.cleanup(out)
    return outcome
