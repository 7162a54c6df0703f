"""Distillation settings for students that the default (Hinton KD, alpha 0.9, T 4) measurably hurts, chosen by what
the student is (its layers), not by its name, as the optimizer defaults are (training/family_defaults.py).

A row applies only where the recipe leaves distill.method, alpha and temperature all unset: a recipe that names
any of them keeps its own. Each row carries the figures that justify it (benchmarks/distill_families.py:
Fashion-MNIST at 32 px, 3000 training images, a CIFAR ResNet-8 teacher at 80.8% test, 3 epochs, the product's
training defaults, top-1 on 2000 test images, AVX-512 EPYC). Adaptive KD (adapt.py) still watches the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

# Layer types that drop whole residual branches at random while training (torchvision, timm).
STOCHASTIC_DEPTH = ("StochasticDepth", "DropPath")


def has_stochastic_depth(model: nn.Module) -> bool:
    return any(type(m).__name__ in STOCHASTIC_DEPTH and getattr(m, "p", getattr(m, "drop_prob", 0.0))
               for m in model.modules())


@dataclass(frozen=True)
class FamilyRow:
    trait: str                              # what the student has, in words
    applies: Callable[[nn.Module], bool]
    settings: dict                          # distill fields it sets
    evidence: str                           # the measured figures behind it

    def said(self) -> str:
        settings = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        return f"{self.trait}: {settings}"


ROWS = (
    FamilyRow(
        "stochastic depth (residual branches dropped at random while training)", has_stochastic_depth,
        {"method": "dist", "alpha": 0.0},
        "EfficientNet-B0, 1 seed: scratch 77.15, KD alpha 0.9 T 4 70.80 (at chance after epoch 1: KL's pull at T 4 "
        "destabilized it at the top of the warm-up), alpha 0.5 T 4 75.15, alpha 0.5 T 1 71.95, alpha 0.9 T 1 "
        "73.05, DIST alone (alpha 0) 76.45. Students without it kept the default: MobileNetV3-small KD 78.30 "
        "against scratch 77.30. 3 seeds (teacher ResNet-8 width 32, 86.65% test): scratch 73.02 +- 4.15, KD "
        "64.23 +- 5.40, this row 78.72 +- 4.25; MobileNetV3-small (default) scratch 78.42, KD 80.30."),
)

PINNING = ("method", "alpha", "temperature")


def family_settings(cfg, student: nn.Module):
    """(the distill config to train `student` with, the row that set it or None)."""
    if set(PINNING) & set(cfg.model_fields_set):
        return cfg, None
    row = next((r for r in ROWS if r.applies(student)), None)
    return (cfg.model_copy(update=row.settings), row) if row else (cfg, None)
