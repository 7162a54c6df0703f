"""What the training loop asks of a distiller, for schemes without a frozen teacher (online peers, a network's own
exits): their targets change every step, so nothing is cached, and there is no teacher to guard against. The
subclass sets `method_module` (its learned parts, which join the optimizer) and defines loss()."""
from __future__ import annotations

from torch import nn


class TrainedAlongside(nn.Module):
    hint_epochs = 0
    teacher_weight = 1.0
    teacher_logits_mode: str  # what the report says the targets were
    total_steps: int | None = None  # set by prepare()

    def prepare(self, train_split, augment: bool, batch_size: int | None = None, workers: int | None = None,
                epochs: int | None = None, steps: int | None = None) -> None:
        """Nothing to cache: the targets change every step. `steps`: the run's optimizer steps (for ramps)."""
        self.total_steps = steps

    def compare_with_teacher(self, epoch: int, val_accuracy: float, student: nn.Module, val_split, task) -> None:
        """No frozen teacher to guard against, so nothing to compare with."""
        return None

    def compare_with_scratch(self, epoch: int, student: nn.Module, val_split, task) -> None:
        """No adaptation: nothing to compare with."""
        return None

    def end_epoch(self, epoch: int, comparison: dict | None, val_accuracy: float = float("nan"),
                  scratch: dict | None = None) -> bool:
        """No frozen teacher to guard against, no settings to adapt: no epoch is trained again."""
        return False

    def guard_summary(self) -> None:
        return None

    def adaptation_summary(self) -> None:
        return None

    def close(self) -> None:
        """No hooks to remove unless the subclass added some."""
