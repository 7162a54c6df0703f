"""A user model factory, loaded by tests as python:tests.custom_model:tiny_mlp."""
from torch import nn


def tiny_mlp(num_classes: int, in_channels: int, image_size: int, hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(hidden, num_classes))
