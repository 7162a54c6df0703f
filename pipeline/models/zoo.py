"""Architectures by name: CIFAR-style ResNets and a small CNN for small images, a small UNet (segmentation),
a small FCOS-style detector (fcos_tiny),
torchvision (classification and segmentation) and timm models adapted to the input, or any
`python:module:function` that returns an nn.Module."""
from __future__ import annotations

import importlib
import re
from typing import Any, Callable

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.models.channel_shuffle import make_shuffles_explicit
from edgeship.pipeline.models.detector import TinyFCOS
from edgeship.pipeline.models.segmentation import UNet, torchvision_segmentation, torchvision_segmentation_names
from edgeship.pipeline.models.torchvision_detectors import BACKBONES, torchvision_detector, unsplit_reason


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet (depth 6n+2, three stages); `width` scales every stage (resnet8x4 = width 64)."""

    def __init__(self, depth: int, num_classes: int, in_channels: int, width: int = 16):
        super().__init__()
        if (depth - 2) % 6:
            raise EdgeshipError(f"cifar_resnet depth must be 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        widths = [width, width * 2, width * 4]
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, cout in enumerate(widths):
            stage_blocks = []
            for b in range(blocks):
                stage_blocks.append(BasicBlock(cin, cout, 2 if (stage > 0 and b == 0) else 1))
                cin = cout
            layers.append(nn.Sequential(*stage_blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class SimpleCNN(nn.Module):
    """conv-bn-relu blocks, each doubling width; max-pool after every block but the last."""

    def __init__(self, num_classes: int, in_channels: int, width: int = 16, depth: int = 2):
        super().__init__()
        layers, cin = [], in_channels
        for i in range(depth):
            cout = width * 2 ** i
            layers += [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i < depth - 1:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def _first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Conv2d):
                return module, child_name, child
    raise EdgeshipError("model has no Conv2d to adapt to the input channels")


# Below this input size a zoo model's stem (stride 2-4, often a max-pool) would leave later stages nothing to
# see: it becomes a stride-1 3x3 convolution (CIFAR practice). From 64 px up the stems stay as designed.
SMALL_INPUT = 64


def _adapt_stem(model: nn.Module, in_channels: int, image_size: int) -> nn.Module:
    parent, child_name, conv = _first_conv(model)
    small = image_size < SMALL_INPUT
    if conv.in_channels != in_channels or small:
        # Small images: a stride-1 3x3 stem keeps spatial size for the later stages (CIFAR practice).
        kernel, stride, padding = ((3, 3), (1, 1), (1, 1)) if small else (conv.kernel_size, conv.stride, conv.padding)
        setattr(parent, child_name, nn.Conv2d(in_channels, conv.out_channels, kernel, stride, padding,
                                              bias=conv.bias is not None))
    if small and isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
        model.maxpool = nn.Identity()
    return model


def _torchvision(name: str, num_classes: int, in_channels: int, image_size: int, args: dict) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **args)
    return _adapt_stem(make_shuffles_explicit(model), in_channels, image_size)


def _timm(name: str, num_classes: int, in_channels: int, image_size: int, args: dict) -> nn.Module:
    import timm

    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:5]
        raise EdgeshipError(f"arch 'timm:{name}': timm has no model {name!r}"
                            + (f" (similar: {', '.join(close)})" if close else ""))
    # pretrained=False always: weights come from local files (teacher.checkpoint), never from a download
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **args)
    return _adapt_stem(model, in_channels, image_size)


def _python_factory(spec: str) -> Callable[..., nn.Module]:
    parts = spec.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise EdgeshipError(f"arch {spec!r}: use python:module:function")
    module_name, func_name = parts[1], parts[2]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise EdgeshipError(f"arch {spec!r}: cannot import {module_name}: {err}") from None
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise EdgeshipError(f"arch {spec!r}: {module_name} has no function {func_name}")
    return factory


def build_model(arch: str, num_classes: int, in_channels: int, image_size: int, args: dict[str, Any]) -> nn.Module:
    """Build an untrained model; unknown names and bad arguments are EdgeshipErrors naming the arch."""
    try:
        match = re.fullmatch(r"cifar_resnet(\d+)", arch)
        if match:
            return CifarResNet(int(match.group(1)), num_classes, in_channels, **args)
        if arch == "simple_cnn":
            return SimpleCNN(num_classes, in_channels, **args)
        if arch == "unet":
            return UNet(num_classes, in_channels, **args)
        if arch == "fcos_tiny":
            return TinyFCOS(num_classes, in_channels, **args)
        if arch in BACKBONES:
            return torchvision_detector(arch, num_classes, in_channels, args)
        if unsplit_reason(arch):
            raise EdgeshipError(f"arch {arch!r} is not offered: {unsplit_reason(arch)}; split detectors: "
                                f"{', '.join(BACKBONES)}, fcos_tiny")
        if arch in torchvision_segmentation_names():
            # the stem takes the recipe's channels; its stride stays (segmentation outputs are upsampled anyway)
            return _adapt_stem(torchvision_segmentation(arch, num_classes, args), in_channels, SMALL_INPUT)
        if arch.startswith("timm:"):
            return _timm(arch.removeprefix("timm:"), num_classes, in_channels, image_size, args)
        if arch.startswith("python:"):
            model = _python_factory(arch)(num_classes=num_classes, in_channels=in_channels,
                                          image_size=image_size, **args)
            if not isinstance(model, nn.Module):
                raise EdgeshipError(f"arch {arch!r} returned {type(model).__name__}, not a torch.nn.Module")
            return model
        import torchvision

        if arch in torchvision.models.list_models(module=torchvision.models):
            return _torchvision(arch, num_classes, in_channels, image_size, args)
    except TypeError as err:
        raise EdgeshipError(f"arch {arch!r}: bad args: {err}") from None
    raise EdgeshipError(f"unknown architecture {arch!r} (cifar_resnetN, simple_cnn, unet, fcos_tiny, a torchvision "
                        f"model name (classification or segmentation), {', '.join(BACKBONES)}, timm:NAME, or "
                        "python:module:function)")


def count_macs_params(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    import torch_pruning as tp

    was_training = model.training
    model.eval()
    macs, params = tp.utils.count_ops_and_params(model, example)
    model.train(was_training)
    return int(macs), int(params)
