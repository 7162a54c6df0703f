"""User model factories, loaded by tests as python:tests.support.custom_model:NAME."""
import torch
from torch import nn


def tiny_mlp(num_classes: int, in_channels: int, image_size: int, hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(hidden, num_classes))


class ErfinvNet(nn.Module):
    """Uses torch.special.erfinv, which not every converter supports: a real conversion failure."""

    def __init__(self, num_classes: int, in_channels: int, hidden: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = torch.special.erfinv(torch.tanh(self.conv(x)) * 0.5)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def erfinv_net(num_classes: int, in_channels: int, image_size: int, hidden: int = 8) -> nn.Module:
    return ErfinvNet(num_classes, in_channels, hidden)
