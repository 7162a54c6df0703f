"""What a stage reads besides its own config section and the run's data: declared once, so the stage's key and
its build see the same things (nothing reaches a build through the run's Context unhashed)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeship.calibration.calibration_set import CalibrationSet
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.infrastructure.keys import file_sha256


@dataclass(frozen=True)
class StageInputs:
    parent: Artifact | None = None        # the artifact the stage starts from (its key is the key's parent)
    teacher: Artifact | None = None       # a teacher it learns from besides its parent (pruning's KD fine-tune)
    torch_model: Artifact | None = None   # the torch model behind a converted parent (int8 fallback, parity)
    calibration: CalibrationSet | None = None
    weight_files: tuple[str | None, ...] = ()  # checkpoints it loads: their content, not their names, decides
    reference: Artifact | None = None     # a model it is compared with while it trains (adaptive KD's scratch)

    def key_parts(self) -> list:
        sums = [file_sha256(Path(p)) if p and Path(p).is_file() else None for p in self.weight_files]
        return [self.teacher.key if self.teacher else None, self.torch_model.key if self.torch_model else None,
                self.calibration.key if self.calibration else None, *sums,
                *([self.reference.key] if self.reference else [])]  # keys made before it existed stay
