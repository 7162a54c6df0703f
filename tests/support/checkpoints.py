"""Model files for tests of what a run does with the weights a user hands it: an ONNX teacher, checkpoints of
another class count or backbone, a pickle that would run code."""
from __future__ import annotations

import pickle
from pathlib import Path


class _Evil:
    def __reduce__(self):  # unpickling would run this command
        return (print, ("code ran",))


def pickle_with_code(folder: Path) -> str:
    path = folder / "teacher.pt"
    path.write_bytes(pickle.dumps({"weights": _Evil()}))
    return str(path)


def resnet18_weights(folder: Path) -> str:
    import torch
    import torchvision

    path = folder / "resnet18.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return str(path)


def onnx_teacher(folder: Path, classes: int) -> str:
    """A teacher that is not PyTorch: an ONNX file (made here from a torch model) with `classes` outputs."""
    import torch

    from edgeship.pipeline.models.zoo import build_model

    path = folder / f"teacher{classes}.onnx"
    model = build_model("simple_cnn", classes, 1, 8, {"width": 4}).eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(path), input_names=["input"], dynamo=False,
                      dynamic_axes={"input": {0: "batch"}})
    return str(path)


def wrong_class_count_checkpoint(folder: Path) -> str:
    import torch

    from edgeship.pipeline.models.zoo import build_model

    path = folder / "teacher3.pt"
    torch.save(build_model("cifar_resnet8", 3, 1, 8, {"width": 4}).state_dict(), path)
    return str(path)
