"""Torch models as artifacts: weights (a plain state dict, loadable with weights_only=True), the recipe of
the architecture, and an ExportedProgram (.pt2) that the device agent can run with torch alone.

Pruned models have fewer channels than their architecture builds; `load_resized` shrinks the layers to the
saved shapes before loading, so nothing of the pruning library is pickled.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import StageId
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.datasets import Dataset
from edgeship.pipeline.models.onnx_teacher import OnnxTeacher
from edgeship.pipeline.models.zoo import build_model, count_macs_params

WEIGHTS_FILE = "weights.pt"
PROGRAM_FILE = "model.pt2"


def example_input(pre: dict) -> torch.Tensor:
    return torch.zeros(1, pre["channels"], *pre["size"], dtype=torch.float32)


def arch_spec(arch: str, args: dict, data: Dataset) -> dict:
    return {"arch": arch, "args": dict(args), "num_classes": data.num_classes,
            "channels": data.preprocessing["channels"], "size": data.preprocessing["size"][0]}


def build_from_spec(spec: dict) -> nn.Module:
    return build_model(spec["arch"], spec["num_classes"], spec["channels"], spec["size"], spec["args"])


def _resize_module(module: nn.Module, shapes: dict[str, torch.Size]) -> None:
    """Give one layer the parameter shapes of a pruned copy (Conv, BatchNorm, Linear, LayerNorm, PReLU...)."""
    for attr, shape in shapes.items():
        current = getattr(module, attr)
        if current is None or current.shape == shape:
            continue
        fresh = torch.empty(shape, dtype=current.dtype)
        if isinstance(current, nn.Parameter):
            setattr(module, attr, nn.Parameter(fresh, requires_grad=current.requires_grad))
        else:
            module.register_buffer(attr, fresh)
    weight = getattr(module, "weight", None)
    if isinstance(module, nn.modules.conv._ConvNd) and weight is not None:
        depthwise = module.groups > 1 and module.groups == module.in_channels
        module.out_channels = weight.shape[0]
        module.groups = weight.shape[0] if depthwise else module.groups
        module.in_channels = weight.shape[1] * module.groups
    elif isinstance(module, nn.Linear):
        module.out_features, module.in_features = weight.shape
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        module.num_features = module.running_mean.shape[0] if module.running_mean is not None else weight.shape[0]
    elif isinstance(module, nn.GroupNorm):
        module.num_channels = weight.shape[0]
    elif isinstance(module, nn.LayerNorm) and weight is not None:  # ConvNeXt's LayerNorm2d: channels last dim
        module.normalized_shape = tuple(weight.shape)


def load_resized(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    per_module: dict[str, dict[str, torch.Size]] = {}
    for name, tensor in state.items():
        owner, _, attr = name.rpartition(".")
        per_module.setdefault(owner, {})[attr] = tensor.shape
    modules = dict(model.named_modules())
    for owner, shapes in per_module.items():
        if owner in modules:
            _resize_module(modules[owner], shapes)
    model.load_state_dict(state, strict=True)
    return model


def save_torch_model(model: nn.Module, out: Path, pre: dict) -> dict:
    """Write weights + ExportedProgram; returns metrics (params, macs) for artifact.json."""
    model = model.eval()
    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    example = example_input(pre)
    torch.export.save(torch.export.export(model, (example,)), out / PROGRAM_FILE)
    macs, params = count_macs_params(model, example)
    return {"macs": macs, "params": params}


def load_torch_model(artifact: Artifact) -> nn.Module:
    if artifact.arch is None:
        raise EdgeshipError(f"{artifact.folder}: artifact has no architecture to rebuild a torch model")
    state = torch.load(artifact.folder / WEIGHTS_FILE, weights_only=True, map_location="cpu")
    return load_resized(build_from_spec(artifact.arch), state).eval()


def torch_artifact(out: Path, model: nn.Module, *, key: str, parent: str | None, sid: StageId, spec: dict,
                   data: Dataset, extra_metrics: dict | None = None) -> Artifact:
    metrics = save_torch_model(model, out, data.preprocessing)
    metrics.update(extra_metrics or {})
    return Artifact.made(
        sid, folder=out, file=PROGRAM_FILE, key=key, parent=parent,
        inputs=[input_spec(data.preprocessing, "input")], preprocessing=data.preprocessing, labels=data.labels,
        arch=spec, metrics=metrics,
    )


def input_spec(pre: dict, name: str, dtype: str = "float32") -> dict:
    return {"name": name, "shape": [1, pre["channels"], *pre["size"]], "dtype": dtype, "layout": "NCHW"}



def load_teacher(artifact: Artifact) -> nn.Module:
    """The teacher as a module that gives logits: a torch model, or an ONNX file run by onnxruntime."""
    if artifact.format == "onnx":
        return OnnxTeacher(artifact.path).eval()
    return load_torch_model(artifact)
