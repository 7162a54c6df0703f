"""Batch norms folded into the convolutions they follow, in a copy of the model that keeps its own class and
forward: a converter that folds them itself may name the result after the fold instead of the module.

OpenVINO 2026.4's convert_model names each convolution followed by a batch norm after the fold's Multiply
('Multiply_2852'), a counter that changes with every conversion and names no module: the int8 budget could not
rank those layers by their module's error, and a float layer chosen on one export was missing from the next.
Folded first, each keeps its module's scope ('__module.features.0/aten::_convolution/Convolution').
"""
from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(convolution, batch norm) module names where the norm reads only that convolution's output and each
    module is called once (a convolution shared between pyramid levels with a norm per level cannot be folded).
    Found by tracing (torch.fx); nothing where the model cannot be traced."""
    from torch import fx

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception:  # control flow symbolic tracing cannot follow
        return []
    modules = dict(model.named_modules())
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    pairs = []
    for node in graph.nodes:
        source = node.args[0] if node.op == "call_module" and node.args else None
        if (isinstance(modules.get(node.target), nn.BatchNorm2d) and isinstance(source, fx.Node)
                and source.op == "call_module" and isinstance(modules.get(source.target), nn.Conv2d)
                and len(source.users) == 1 and calls[node.target] == calls[source.target] == 1):
            pairs.append((source.target, node.target))
    return pairs


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _same_outputs(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(
            (a - b).abs().max() <= 1e-4 * (1.0 + a.abs().max()))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_outputs(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same_outputs, a, b))
    return a == b


@torch.no_grad()
def batch_norms_folded(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """An eval-mode copy of `model` with each foldable batch norm folded into its convolution and replaced by
    an identity, checked against the model on a random input of `example`'s shape; the model itself where
    nothing folds or the copy disagrees."""
    pairs = _pairs(model.eval())
    if not pairs:
        return model
    folded = copy.deepcopy(model)
    for conv, norm in pairs:
        _set(folded, conv, fuse_conv_bn_eval(folded.get_submodule(conv), folded.get_submodule(norm)))
        _set(folded, norm, nn.Identity())
    probe = torch.randn_like(example)
    return folded.eval() if _same_outputs(model(probe), folded.eval()(probe)) else model
