"""The budget search's checkpoint: a search killed (kill -9, a lost machine) resumes at its last finished step,
not from the distilled student. Beside the stage's folder, under the stage's content key, so only the same search
(same student, recipe, code and tools) picks it up; removed once the stage's artifact is made.

Weights are written to a new file first and state.json, which names them, is replaced atomically after: a kill at
any point leaves the previous step's pair or the new one, never a mix."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.atomic import write_json_atomic
from edgeship.pipeline.models.torch_artifact import build_from_spec, load_resized

STATE_FILE = "state.json"
LOG_GLOB = "train-budget-*.csv"  # the steps' fine-tune logs, kept with them


class SearchCheckpoint:
    def __init__(self, stage_out: Path, key: str):
        self.folder = stage_out.parent / f".resume-budget-{key}"

    def keep(self, model: nn.Module, state: dict, logs_from: Path) -> None:
        """`model`'s weights and the search's `state` (JSON) as of a finished step; the fine-tune logs so far."""
        self.folder.mkdir(parents=True, exist_ok=True)
        n = len(state["steps"])
        weights = self.folder / f"weights-{n}.pt"
        torch.save(model.state_dict(), weights)
        for log in logs_from.glob(LOG_GLOB):
            shutil.copy2(log, self.folder / log.name)
        write_json_atomic(self.folder / STATE_FILE, {**state, "weights": weights.name})
        for old in self.folder.glob("weights-*.pt"):
            if old != weights:
                old.unlink()

    def load(self, arch: dict, logs_to: Path) -> tuple[nn.Module, dict] | None:
        """The model as of the last kept step (pruned: rebuilt from `arch` at the kept weights' sizes) and the
        search's state; None when there is nothing to resume. The fine-tune logs go back into `logs_to`."""
        path = self.folder / STATE_FILE
        if not path.is_file():
            return None
        state = json.loads(path.read_text())
        weights = torch.load(self.folder / state["weights"], weights_only=True, map_location="cpu")
        for log in self.folder.glob(LOG_GLOB):
            shutil.copy2(log, logs_to / log.name)
        return load_resized(build_from_spec(arch), weights).eval(), state

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
