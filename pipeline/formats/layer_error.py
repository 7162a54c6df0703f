"""Per-layer quantization error, to rank the layers the int8 budget keeps in float (NNCF's accuracy control ranks
the same way): for each layer alone, its weights (per output channel, symmetric) and its input (per tensor) are
rounded to 8 bits in the torch model, and the model's output on calibration samples is compared with fp32 as a
signal-to-quantization-noise ratio (dB; lower = more harm). One forward pass per layer, instead of one
quantize-and-evaluate in the runtime per layer.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

QUANTIZABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
NO_NOISE_DB = 999.0  # rounding changed nothing at all


def module_of(layer: str, modules: dict[str, nn.Module]) -> str | None:
    """The torch module a runtime's layer name comes from: a torch module name itself (TFLite's PT2E), or scope
    paths such as ONNX's '/layer1/layer1.0/conv1/Conv' or OpenVINO's '__module.features.0/aten::conv2d/...'
    whose parts are qualified relative to some ancestor."""
    if layer in modules:
        return layer if isinstance(modules[layer], QUANTIZABLE) else None
    current = ""
    for part in layer.strip("/").split("/"):
        part = part.removeprefix("__module.")
        ancestors = current.split(".") if current else []
        for depth in range(len(ancestors), -1, -1):
            candidate = ".".join([*ancestors[:depth], part])
            if candidate in modules:
                current = candidate
                break
    return current if current and isinstance(modules.get(current), QUANTIZABLE) else None


def _fake_quant_weight(weight: torch.Tensor) -> torch.Tensor:
    flat = weight.reshape(weight.shape[0], -1)
    scale = flat.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return (weight / scale.view(shape)).round().clamp(-127, 127) * scale.view(shape)


def _fake_quant_input(x: torch.Tensor) -> torch.Tensor:
    low, high = float(x.min().clamp(max=0.0)), float(x.max().clamp(min=0.0))
    scale = max(high - low, 1e-12) / 255.0
    zero = round(-low / scale)
    return ((x / scale).round() + zero).clamp(0, 255).sub(zero) * scale


def sqnr_db(reference: torch.Tensor, approximate: torch.Tensor) -> float:
    noise = float(((reference - approximate) ** 2).sum())
    return math.inf if noise == 0.0 else 10.0 * math.log10(max(float((reference ** 2).sum()), 1e-30) / noise)


def _output(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    out = model(inputs)
    return out[0] if isinstance(out, (tuple, list)) else out


@torch.no_grad()
def layer_errors(model: nn.Module, layers: list[str], inputs: np.ndarray) -> list[dict]:
    """[{layer, module, sqnr_db}] in the order of `layers`; sqnr_db None where no torch module matches."""
    model = model.eval()
    modules = dict(model.named_modules())
    x = torch.from_numpy(np.ascontiguousarray(inputs))
    reference = _output(model, x)
    out = []
    for layer in layers:
        name = module_of(layer, modules)
        if name is None:
            out.append({"layer": layer, "module": None, "sqnr_db": None})
            continue
        module = modules[name]
        original = module.weight.data.clone()
        module.weight.data = _fake_quant_weight(original)
        hook = module.register_forward_pre_hook(lambda _, args: (_fake_quant_input(args[0]), *args[1:]))
        try:
            db = sqnr_db(reference, _output(model, x))
        finally:
            hook.remove()
            module.weight.data = original
        out.append({"layer": layer, "module": name, "sqnr_db": round(db, 2) if math.isfinite(db) else NO_NOISE_DB})
    return out
