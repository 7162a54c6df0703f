"""Int8 within an accuracy budget: one algorithm for every backend.

Quantize everything; if the int8 file loses more than `max_accuracy_drop` points against its fp32 file on the
validation split, rank the layers by the harm each one does when it is the only quantized layer, then keep
the worst layers in float, one more at a time, until the budget holds, `max_float_layers` is reached or
`max_search_seconds` have passed (the best file so far stays, said so). The harm is the quantization error at the
model's output in torch (ranking "error", edgeship.pipeline.formats.layer_error: one forward pass per layer), or the
accuracy drop of the runtime's int8 file with that layer alone quantized (ranking "sensitivity": one quantize
and evaluation per layer, minutes per layer at 224 px). Backends only say what their layers are called and how
to quantize while leaving some out.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from edgeship.calibration.calibration_set import CalibrationSet
from edgeship.pipeline.core.contracts.formats import Format, runner_of
from edgeship.pipeline.formats.layer_error import layer_errors, module_of
from edgeship.targets.agent_host import batched_runner, evaluate_details, open_runner

FINAL_NAME = "model-int8"
ERROR_SAMPLES = 32  # calibration samples the per-layer error is measured on


@dataclass
class Int8Outcome:
    file: str
    fp32_accuracy: float
    int8_accuracy: float
    drop: float
    budget: float
    within_budget: bool
    float_layers: list[str] = field(default_factory=list)
    # Most harmful first: [{layer, module, sqnr_db}] (ranking "error") or [{layer, drop_alone}] ("sensitivity").
    sensitivity: list[dict] = field(default_factory=list)
    validation_samples: int = 0
    ranking: str = ""
    tried: list[dict] = field(default_factory=list)  # [{float_layers, accuracy, drop, seconds}] in search order
    search_seconds: float = 0.0
    timed_out: bool = False
    float_outputs: list[str] = field(default_factory=list)  # the prediction layers kept float from the start

    def as_dict(self) -> dict:
        return asdict(self)


# Runners that may evaluate in batches inside this long-lived process. The agent batches OpenVINO and LiteRT too,
# in a process of its own; here, OpenVINO's second, batch-256 compile was followed by a SIGSEGV of the host at a
# later subprocess spawn, and LiteRT's failed resize leaves an interpreter that must not live on.
IN_PROCESS_BATCHES = ("onnx", "torch")


def accuracy_of(fmt: str, path: Path, inputs: np.ndarray, labels: np.ndarray, metric: str = "top1",
                score_on_host: Callable | None = None) -> float:
    """The file's score in the device agent's metric, in batches where that is safe here (the same figures);
    `score_on_host(figures, labels, side)` finishes a metric the agent cannot compute (detection's mAP)."""
    runner = runner_of(fmt)
    one = open_runner(runner, str(path), threads=1)
    batched = batched_runner(open_runner, runner, str(path), 1, one, inputs) if runner in IN_PROCESS_BATCHES \
        else None
    details = evaluate_details(one, inputs, labels, batched, metric)
    return score_on_host(details, labels, inputs.shape[-1])["accuracy"] if score_on_host else details["accuracy"]


def _remove_model(out: Path, name: str) -> None:
    for path in out.glob(f"{name}.*"):
        path.unlink()


def quantize_within_budget(backend: Format, fmt: str, fp32_path: Path, model: torch.nn.Module,
                           example: torch.Tensor, calib: CalibrationSet, out: Path, qcfg,
                           val_inputs: np.ndarray, val_labels: np.ndarray, metric: str = "top1",
                           score_on_host: Callable | None = None, always_float: list[str] = ()) -> Int8Outcome:
    """int8 within the accuracy budget: `always_float` (torch module names: the prediction layers) never
    quantized, then the most harmful layers kept float one by one until the budget holds."""
    fixed = _layers_of(backend.layers(fp32_path, model, out), model, always_float) if always_float else []

    def quantize(exclude: list[str], name: str) -> Path:
        return out / backend.quantize(fp32_path, model, example, calib, out, qcfg, [*fixed, *exclude], name)

    def measure(path: Path) -> float:
        return accuracy_of(fmt, path, val_inputs, val_labels, metric, score_on_host)

    budget = qcfg.max_accuracy_drop
    fp32_acc = measure(fp32_path)
    path = quantize([], FINAL_NAME)
    acc = measure(path)
    outcome = Int8Outcome(path.name, fp32_acc, acc, fp32_acc - acc, budget, fp32_acc - acc <= budget,
                          float_layers=list(fixed), validation_samples=len(val_inputs), float_outputs=list(fixed))
    if outcome.within_budget or not qcfg.fallback or qcfg.max_float_layers == 0:
        backend.cleanup(out)
        return outcome

    started = time.monotonic()
    layers = [layer for layer in backend.layers(fp32_path, model, out) if layer not in fixed]
    order = _rank(backend, fmt, fp32_path, model, example, calib, out, qcfg, layers, outcome, measure, started)
    kept: list[str] = []
    best = (outcome.drop, path.name, acc, [])
    # At least one layer stays int8: a file with every layer float is an fp32 model under an int8 name.
    for layer in order[: min(qcfg.max_float_layers, len(order) - 1)]:
        if time.monotonic() - started > qcfg.max_search_seconds:
            outcome.timed_out = True
            break
        kept.append(layer)
        name = f"{FINAL_NAME}-try{len(kept)}"
        path = quantize(kept, name)
        acc = measure(path)
        outcome.tried.append({"float_layers": len(kept), "layer": layer, "accuracy": acc, "drop": fp32_acc - acc,
                              "seconds": round(time.monotonic() - started, 1)})
        if fp32_acc - acc < best[0]:
            best = (fp32_acc - acc, path.name, acc, list(kept))
        if fp32_acc - acc <= budget:
            break
    drop, best_file, acc, kept = best
    _keep_only(out, best_file)
    outcome.file = FINAL_NAME + Path(best_file).suffix
    outcome.int8_accuracy, outcome.float_layers = acc, [*fixed, *kept]
    outcome.drop, outcome.within_budget = drop, drop <= budget
    outcome.search_seconds = round(time.monotonic() - started, 1)
    backend.cleanup(out)
    return outcome


def output_module_names(model: torch.nn.Module) -> list[str]:
    """The torch names of the model's prediction layers (`output_layers()`), if it names them."""
    heads = {id(m) for m in getattr(model, "output_layers", lambda: [])()}
    return [name for name, module in model.named_modules() if id(module) in heads]


def _layers_of(layers: list[str], model: torch.nn.Module, modules: list[str]) -> list[str]:
    """The runtime's layers that come from the torch modules named `modules`."""
    named, wanted = dict(model.named_modules()), set(modules)
    return [layer for layer in layers if module_of(layer, named) in wanted]


def _keep_only(out: Path, best_file: str) -> None:
    """The best file of the search becomes model-int8.*; the other tries go."""
    best_stem = Path(best_file).stem
    for path in list(out.glob(f"{FINAL_NAME}*")):
        if path.stem != best_stem:
            path.unlink()
    for path in list(out.glob(f"{best_stem}.*")):
        path.rename(out / f"{FINAL_NAME}{path.suffix}")


def _rank(backend: Format, fmt: str, fp32_path: Path, model: torch.nn.Module, example: torch.Tensor,
          calib: CalibrationSet, out: Path, qcfg, layers: list[str], outcome: Int8Outcome, measure,
          started: float) -> list[str]:
    """Layers most harmful first (outcome.sensitivity says by how much). The error ranking falls back to the
    sensitivity ranking when no layer name maps to a torch module."""
    if qcfg.ranking == "error":
        errors = layer_errors(model, layers, calib.inputs[:ERROR_SAMPLES])
        matched = sorted((e for e in errors if e["sqnr_db"] is not None), key=lambda e: e["sqnr_db"])
        if matched:
            outcome.ranking = "error"
            outcome.sensitivity = matched + [e for e in errors if e["sqnr_db"] is None]
            return [e["layer"] for e in outcome.sensitivity]
    outcome.ranking = "sensitivity"
    trials = out / "trials"
    trials.mkdir(exist_ok=True)
    for layer in layers:
        if time.monotonic() - started > qcfg.max_search_seconds:
            outcome.timed_out = True  # rank what was measured; the rest come after, in graph order
            break
        trial = trials / backend.quantize(fp32_path, model, example, calib, trials, qcfg,
                                          [other for other in layers if other != layer], "alone")
        outcome.sensitivity.append({"layer": layer, "drop_alone": outcome.fp32_accuracy - measure(trial)})
        _remove_model(trials, "alone")
    shutil.rmtree(trials, ignore_errors=True)
    outcome.sensitivity.sort(key=lambda row: -row["drop_alone"])
    measured = [row["layer"] for row in outcome.sensitivity]
    return measured + [layer for layer in layers if layer not in measured]
