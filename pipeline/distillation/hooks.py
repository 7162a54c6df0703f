"""Capture intermediate outputs of named modules with forward hooks, so users need not edit their models."""
from __future__ import annotations

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


class FeatureHooks:
    def __init__(self, model: nn.Module, names: list[str], field: str):
        modules = dict(model.named_modules())
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles = []
        for name in names:
            if name not in modules:
                candidates = [n for n, m in model.named_modules() if n and not isinstance(m, (nn.ReLU, nn.BatchNorm2d))]
                hint = ", ".join(candidates[:12]) + (", ..." if len(candidates) > 12 else "")
                raise EdgeshipError(f"{field}: no module named {name!r} (modules: {hint})")
            self.handles.append(modules[name].register_forward_hook(self._keep(name)))
        self.names = list(names)

    def _keep(self, name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise EdgeshipError(f"module {name!r} does not return a single tensor; pick another layer")
            self.outputs[name] = output
        return hook

    def features(self) -> list[torch.Tensor]:
        return [self.outputs[name] for name in self.names]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []
