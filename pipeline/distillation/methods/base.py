"""The Method contract: one distillation loss, what it needs, and its published default weight.

loss = (1 - alpha) * CE + alpha * KD(T) + beta * method.loss(...). A method is an nn.Module (its learned
parts, such as FitNets' regressors, train with the student), registered in core/contracts/plugins.py METHODS.
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from edgeship.pipeline.core.contracts.plugins import METHODS


class Method(nn.Module):
    name: ClassVar[str]
    display: ClassVar[str]              # how reports name it
    default_beta: ClassVar[float]       # weight of its own loss when the recipe leaves beta unset
    default_temperature: ClassVar[float] = 4.0  # of the logit terms, when the recipe leaves it unset
    reads_temperature: ClassVar[bool] = False  # its loss takes distill.temperature (the search tries two)
    needs_layers: ClassVar[bool] = False  # hooked (teacher, student) feature pairs from distill.layers
    optional_layers: ClassVar[bool] = False  # takes such pairs where there are some, works on the logits without
    tasks: ClassVar[tuple[str, ...]] = ("classification", "segmentation")  # the tasks it makes sense for
    # beta: auto balances its loss against cross entropy on the first batches (feature and relation losses, whose
    # scale depends on the layers chosen); logit methods keep their published weight under auto.
    auto_balance: ClassVar[bool] = False
    # The method's own settings (a pydantic Section), given as `distill.options` in the recipe and validated
    # against this model when the recipe is read; None: it takes none. docs/recipe.md lists each method's.
    Settings: ClassVar[type | None] = None

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.settings = self.Settings.model_validate(cfg.options) if self.Settings is not None else None

    @property
    def hint_epochs(self) -> int:
        """Epochs before the KD epochs in which only this method's loss trains the student (FitNets stage 1)."""
        return 0

    def setup(self, student_features: list[torch.Tensor], teacher_features: list[torch.Tensor]) -> None:
        """Called once with one batch's hooked features, before training: build learned parts here."""

    def check_outputs(self, student_outputs, teacher_outputs) -> None:
        """Raise EdgeshipError, naming distill.method, when the two models' outputs cannot be paired (a method
        that pairs the two heads output by output defines it; it runs on one example before training)."""

    @property
    def checks_outputs(self) -> bool:
        return type(self).check_outputs is not Method.check_outputs

    def bind(self, train_samples: int) -> None:
        """Called once before training with the training split's size (CRD's memory bank holds one row each)."""

    # A method that needs each sample's position in the training split (a memory bank) sets this; its loss then
    # gets `indices=` as a keyword.
    needs_indices: ClassVar[bool] = False

    # Every method defines loss(s_logits, t_logits, s_feats, t_feats, labels, epoch) -> scalar tensor; the base
    # has none, so a method without one is refused when it registers ("missing loss").


class LearnedPairs(Method):
    """A method with one learned module per layer pair, built from the pair's channel counts on the first batch
    and called as module(student map, teacher map) -> loss (FitNets' regressors, VID's variational ones)."""
    needs_layers = True
    pair_module: ClassVar[type[nn.Module]]

    def __init__(self, cfg):
        super().__init__(cfg)
        self.pairs = nn.ModuleList()

    def setup(self, student_features, teacher_features) -> None:
        for s, t in zip(student_features, teacher_features):
            self.pairs.append(self.pair_module(s.shape[1], t.shape[1]))

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        return sum(pair(s, t.float()) for pair, s, t in zip(self.pairs, s_feats, t_feats))


class AlignsChannels(Method):
    """A method that maps each hooked student map onto its teacher's channels by a learned 1x1 convolution
    (`self.align`, one per layer pair), built on the first batch."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.align = nn.ModuleList()

    def setup(self, student_features, teacher_features) -> None:
        for s, t in zip(student_features, teacher_features):
            self.align.append(nn.Conv2d(s.shape[1], t.shape[1], 1, bias=False))


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: the method under its `name`."""
    METHODS.register(cls)
    return cls
