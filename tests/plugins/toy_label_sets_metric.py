"""The device half of the toy label-sets task (tests/plugins/toy_label_sets.py), pushed inside the agent's
zipapp: an image is right when the set of classes whose score is above 0 is exactly its set of labels (a variable
number per image). Thresholding is the device's post-processing step. Standalone: numpy only."""
from __future__ import annotations

import numpy as np


class ExactSet:
    def __init__(self):
        self.exact = self.seen = 0

    @staticmethod
    def postprocess(scores: np.ndarray) -> np.ndarray:
        return scores > 0.0  # sigmoid(score) > 0.5

    def update(self, present: np.ndarray, targets: list) -> None:
        for row, truth in zip(present, targets):
            self.exact += int(set(np.flatnonzero(row).tolist()) == set(np.asarray(truth).tolist()))
            self.seen += 1

    def result(self) -> dict:
        return {"accuracy": self.exact / max(1, self.seen) * 100.0}


METRICS = {"label-set": ExactSet}
