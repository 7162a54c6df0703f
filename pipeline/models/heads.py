"""A classifier's head: the layers whose outputs are the classes."""
from __future__ import annotations

from torch import nn


def classifier_layers(model: nn.Module, num_classes: int) -> list[nn.Module]:
    """Layers whose outputs are the classes: pruning them would change what the model predicts, and a pretrained
    checkpoint of another class count replaces exactly these. A model with several prediction layers (a
    detector's classes, boxes and centerness) names them in `output_layers()`."""
    declared = getattr(model, "output_layers", None)
    if callable(declared):
        return list(declared())
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
            and getattr(m, "out_features", getattr(m, "out_channels", None)) == num_classes]


def head_keys(model: nn.Module, num_classes: int) -> set[str]:
    """State-dict keys of the head's parameters and buffers."""
    head = {id(m) for m in classifier_layers(model, num_classes)}
    return {f"{name}.{key}" if name else key for name, module in model.named_modules() if id(module) in head
            for key in module.state_dict()}
