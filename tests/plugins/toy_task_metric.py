"""The device half of the toy task (tests/plugins/toy_task.py), pushed inside the agent's zipapp: top-3 accuracy,
with the top-3 selection as the device's post-processing step (timed apart from inference). Standalone, as the
agent: numpy only."""
from __future__ import annotations

import numpy as np

K = 3


class TopThree:
    def __init__(self):
        self.hits = self.seen = 0

    @staticmethod
    def postprocess(outputs: np.ndarray) -> np.ndarray:
        """Scores (N, classes) -> the three best classes per image (N, 3), best first."""
        best = np.argpartition(-outputs, K - 1, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(outputs, best, axis=1), axis=1)
        return np.take_along_axis(best, order, axis=1)

    def update(self, predictions: np.ndarray, labels: np.ndarray) -> None:
        self.hits += int((predictions == np.asarray(labels)[:, None]).any(axis=1).sum())
        self.seen += len(labels)

    def result(self) -> dict:
        return {"accuracy": self.hits / max(1, self.seen) * 100.0}


METRICS = {"top3": TopThree}
