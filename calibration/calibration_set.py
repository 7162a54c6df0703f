"""CalibrationSet: representative, preprocessed input samples with a content key, stored as .npz."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeship.pipeline.core.infrastructure.atomic import write_atomic
from edgeship.pipeline.core.infrastructure.keys import content_key
from edgeship.pipeline.core.infrastructure.sampling import stratified_indices


@dataclass
class CalibrationSet:
    inputs: np.ndarray   # float32 (N, C, H, W), already preprocessed
    indices: np.ndarray  # which training samples were drawn
    key: str

    def __len__(self) -> int:
        return len(self.inputs)

    def samples(self):
        """One (1, C, H, W) batch per sample: the static-shape edge models take batch 1."""
        for i in range(len(self.inputs)):
            yield self.inputs[i:i + 1]

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.key}.npz"
        if not path.exists():
            write_atomic(path, lambda tmp: np.savez(tmp, inputs=self.inputs, indices=self.indices), suffix=".npz")
        return path

    @classmethod
    def load(cls, path: Path) -> "CalibrationSet":
        with np.load(path) as data:
            return cls(data["inputs"], data["indices"], Path(path).stem)


def sample_indices(labels: np.ndarray, count: int, sampling: str, seed: int) -> np.ndarray:
    """Stratified: the same number from every class (as near as count allows); random: uniform draw;
    all: every sample (count ignored)."""
    if sampling == "all":
        return np.arange(len(labels), dtype=np.int64)
    if sampling == "random":
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(labels), size=min(count, len(labels)), replace=False))
    return stratified_indices(labels, count, seed)


def build_calibration_set(inputs: np.ndarray, labels: np.ndarray, data_key: str, count: int, sampling: str,
                          seed: int) -> CalibrationSet:
    indices = sample_indices(labels, count, sampling, seed)
    key = content_key("calibration", data_key, count, sampling, seed)
    return CalibrationSet(np.ascontiguousarray(inputs[indices], dtype=np.float32), indices, key)
