"""Where a network can take early exits: the end of each resolution stage of its main path (its "spine").

Deep-to-shallow self-distillation puts a small classifier after each stage but the last. Found from one forward
pass with hooks on every module, so it needs no knowledge of the family: the spine is the first module, going
down from the root, with three or more children that give feature maps and no container child holding nearly all
the weights (ResNet: the root; MobileNet, EfficientNet, ConvNeXt: `features`; RegNet: `trunk_output`); a stage is
a run of spine children at one resolution, its exit the last of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError

MAX_EXITS = 3  # BYOT's count (after ResNet's layer1, layer2, layer3): the stages nearest the end
DOMINANT_SHARE = 0.9  # a child with this share of its parent's weights is the path itself: look inside it


@dataclass(frozen=True)
class Exit:
    name: str                       # module path in the student
    shape: tuple[int, int, int]     # channels, height, width of its output


@dataclass(frozen=True)
class Exits:
    shallow: list[Exit]   # where the shallow classifiers attach, in order
    deepest: Exit         # the last stage's output: the deep features the shallow heads are compared with


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _outputs(model: nn.Module, example: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """Every module's output shape (NCHW outputs only), in the order the modules finished."""
    shapes: dict[str, tuple[int, int, int]] = {}
    handles = []
    for name, module in model.named_modules():
        def keep(_module, _inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                shapes.pop(name, None)  # a module run twice counts where it last finished
                shapes[name] = tuple(output.shape[1:])
        handles.append(module.register_forward_hook(keep))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


def _spine(model: nn.Module, shapes: dict[str, tuple[int, int, int]]) -> list[str]:
    order = {name: position for position, name in enumerate(shapes)}
    prefix, module = "", model
    while True:
        children = [(f"{prefix}{name}", child) for name, child in module.named_children()]
        maps = sorted((c for c in children if c[0] in order), key=lambda c: order[c[0]])
        total = max(_param_count(module), 1)
        heaviest = max(children, key=lambda c: _param_count(c[1]), default=None)
        inside = heaviest is not None and any(True for _ in heaviest[1].children())
        if len(maps) >= 3 and (not inside or _param_count(heaviest[1]) < DOMINANT_SHARE * total):
            return [name for name, _ in maps]
        if not inside:
            return []
        prefix, module = f"{heaviest[0]}.", heaviest[1]


def find_exits(model: nn.Module, example: torch.Tensor, names: list[str] | None = None) -> Exits:
    """The exits to use: `names` (distill.exits) if given, else found on the spine. Raises EdgeshipError naming
    distill.exits where the architecture has no stages to find."""
    shapes = _outputs(model, example)
    spine = _spine(model, shapes)
    # trailing weightless 1x1 outputs are the global pooling, not a stage
    modules = dict(model.named_modules())
    while spine and shapes[spine[-1]][1:] == (1, 1) and _param_count(modules[spine[-1]]) == 0:
        spine.pop()
    if not spine:
        raise EdgeshipError("distill.exits: found no stages of feature maps in the student; name the layers that "
                            "end its stages, e.g. [layer1, layer2, layer3]")
    deepest = Exit(spine[-1], shapes[spine[-1]])
    if names:
        missing = [n for n in names if n not in modules]
        if missing:
            raise EdgeshipError(f"distill.exits: no module named {missing[0]!r} in the student")
        flat = [n for n in names if n not in shapes]
        if flat:
            raise EdgeshipError(f"distill.exits: {flat[0]!r} does not give an NCHW feature map")
        return Exits([Exit(n, shapes[n]) for n in names], deepest)
    stage_ends: dict[tuple[int, int], str] = {}
    for name in spine:
        stage_ends.pop(shapes[name][1:], None)  # keep the order in which each resolution was last seen
        stage_ends[shapes[name][1:]] = name
    ends = [name for name in stage_ends.values() if shapes[name][1:] != deepest.shape[1:]]
    if not ends:
        raise EdgeshipError("distill.exits: the student has a single resolution stage, no shallower one to attach "
                            "a classifier to; name its layers in distill.exits")
    return Exits([Exit(n, shapes[n]) for n in ends[-MAX_EXITS:]], deepest)
