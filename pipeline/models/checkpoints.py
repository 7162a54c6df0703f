"""Users' weights files: weights-only state dicts (never code), in the wrappings training tools write them, with a
head for another class count replaced by a fresh one (what the stage then fine-tunes)."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.models.heads import head_keys

WRAPPERS = ("state_dict", "model_state_dict", "model", "module")  # torch-lightning, timm train.py, plain scripts


def read_state_dict(path: Path, field: str, prefix: str | None = None) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise EdgeshipError(f"{field}: checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols: the one line below says what matters
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EdgeshipError(f"{field}: {path} is not a weights-only state dict ({first})") from None
    while isinstance(state, dict) and any(isinstance(state.get(w), dict) for w in WRAPPERS):
        state = next(state[w] for w in WRAPPERS if isinstance(state.get(w), dict))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EdgeshipError(f"{field}: {path} holds a {type(state).__name__}, not a state dict of tensors")
    if prefix:
        kept = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not kept:
            sample = ", ".join(list(state)[:3])
            raise EdgeshipError(f"{field}: checkpoint_prefix {prefix!r} matches no key of {path} (keys: {sample}, ...)")
        state = kept
    elif state and all(k.startswith("module.") for k in state):  # saved from DistributedDataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_checkpoint(path: Path, model: nn.Module, field: str, num_classes: int | None = None,
                    prefix: str | None = None) -> list[str]:
    """Load a user's checkpoint into `model`. Shapes must match the architecture, except the classifier head
    when the checkpoint was trained for another class count (`num_classes` given): that head keeps its fresh
    initialization. Returns the head keys that were replaced (empty: the checkpoint fitted entirely)."""
    state = read_state_dict(path, field, prefix)
    left_out = tuple(getattr(model, "checkpoint_leaves_out", ()))  # parts of the source model this one drops
    state = {k: v for k, v in state.items() if not (left_out and k.startswith(left_out))}
    current = model.state_dict()
    differs = {k for k in state if k in current and state[k].shape != current[k].shape}
    # a counter BatchNorm keeps for its momentum: checkpoints of frozen BatchNorm (torchvision's detectors) lack it
    missing = {k for k in current if k not in state and not k.endswith("num_batches_tracked")}
    unexpected = {k for k in state if k not in current}
    head = head_keys(model, num_classes) if num_classes else set()
    replaceable = differs | missing
    if unexpected or not replaceable <= head or (replaceable and not differs):
        problems = sorted(differs - head)[:2] + sorted(missing - head)[:2] + sorted(unexpected)[:2]
        detail = "; ".join(_describe(k, state, current) for k in problems) or "head keys missing from the file"
        raise EdgeshipError(f"{field}: {path} does not match the architecture: {detail}")
    model.load_state_dict({k: v for k, v in state.items() if k not in replaceable}, strict=False)
    return sorted(replaceable)


def load_backbone(path: Path, model: nn.Module, field: str) -> int:
    """Load a classification checkpoint (torchvision's mobilenet_v3_large or resnet50 layout, e.g. ImageNet
    weights kept on disk) into a segmentation model's `backbone`: MobileNet's `features.N` become `backbone.N`,
    ResNet's names match as they are, the classifier is left out, and an RGB stem is summed over its input
    channels for a grey-scale model. Returns the number of tensors loaded; fewer than half the backbone's is an
    error (the file is for another backbone)."""
    backbone = next((m for name, m in model.named_modules() if name.rsplit(".", 1)[-1] == "backbone"), None)
    if backbone is None:
        raise EdgeshipError(f"{field}: the model has no backbone module (backbone_checkpoint is for torchvision's "
                            "segmentation models)")
    state, target = read_state_dict(path, field), backbone.state_dict()
    loaded = {}
    for key, value in state.items():
        name = key.removeprefix("features.")
        if name not in target:
            continue
        want = target[name].shape
        if value.dim() == 4 and value.shape != want and want[1] == 1 and value.shape[0] == want[0] \
                and value.shape[2:] == want[2:]:
            value = value.sum(1, keepdim=True)  # an RGB stem for one input channel (what timm does)
        if value.shape == want:
            loaded[name] = value
    if len(loaded) < len(target) / 2:
        sample = ", ".join(list(state)[:3])
        raise EdgeshipError(f"{field}: {path} fits only {len(loaded)} of the backbone's {len(target)} tensors "
                            f"(its keys: {sample}, ...): a checkpoint of another backbone?")
    backbone.load_state_dict(loaded, strict=False)
    return len(loaded)


def _describe(key: str, state: dict, current: dict) -> str:
    if key not in current:
        return f"unexpected key {key}"
    if key not in state:
        return f"missing key {key}"
    return f"{key} is {tuple(state[key].shape)} in the file, {tuple(current[key].shape)} in the model"
