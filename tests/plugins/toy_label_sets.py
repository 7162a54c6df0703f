"""A toy task and data source with a variable number of targets per image (docs/extending.md): which digits a
picture holds. `digit-sets[:COUNT]` pastes 1-4 of scikit-learn's 8x8 digits into the quadrants of a 16x16 canvas
(test pictures from held-out digit images); each picture's targets are the distinct digits in it. Task
`label-sets`: one score per class, binary cross-entropy against the set, scored by exact set match (on the device
by toy_label_sets_metric.py, thresholding as its post-processing)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edgeship.pipeline.core.contracts.data_sources import DataSource, SourceData
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES, TASKS
from edgeship.pipeline.core.contracts.tasks import Task
from edgeship.pipeline.data.ragged import RaggedArraySplit
from edgeship.pipeline.data.scenes import held_out_items
from edgeship.pipeline.data.sources import array_digest, digits_arrays

KIND = "label-sets"


def _pictures(x: np.ndarray, y: np.ndarray, count: int, seed: int):
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 1, 16, 16), np.uint8)
    sets = []
    for i in range(count):
        filled = rng.random(4) < 0.5
        filled[rng.integers(4)] = True  # at least one digit
        labels = set()
        for quadrant in np.flatnonzero(filled):
            item = rng.integers(len(x))
            top, left = 8 * (quadrant // 2), 8 * (quadrant % 2)
            images[i, 0, top:top + 8, left:left + 8] = x[item, 0]
            labels.add(int(y[item]))
        sets.append(np.array(sorted(labels), np.int64))
    return images, np.concatenate(sets), np.cumsum([0] + [len(s) for s in sets])


def load(argument: str, cfg, pre: dict) -> SourceData:
    count = int(argument or 2000)
    x, y, names, _, _ = digits_arrays()
    train_items, test_items = held_out_items(y, cfg.split.test, cfg.split.seed)
    n_test = max(1, round(count * cfg.split.test))
    train = _pictures(x[train_items], y[train_items], count - n_test, cfg.split.seed)
    test = _pictures(x[test_items], y[test_items], n_test, cfg.split.seed + 1)
    digest = [array_digest(a) for a in (*train, *test)]
    return SourceData(RaggedArraySplit(*train, pre), RaggedArraySplit(*test, pre), names, digest)


def _count(argument: str) -> None:
    if argument and (not argument.isdigit() or int(argument) < 50):
        raise ValueError("digit-sets[:COUNT]: COUNT is a number of pictures, at least 50")


def multi_hot(targets: list[torch.Tensor], classes: int, device) -> torch.Tensor:
    hot = torch.zeros(len(targets), classes, device=device)
    for i, labels in enumerate(targets):
        hot[i, labels.long()] = 1.0
    return hot


def set_loss(outputs: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(outputs, multi_hot(targets, outputs.shape[1], outputs.device))


class ExactSetMeter:
    def __init__(self, num_classes: int):
        self.counts = np.zeros(2, dtype=np.int64)  # exact, seen

    def update(self, outputs: torch.Tensor, targets: list[torch.Tensor]) -> None:
        present = outputs.detach() > 0
        truth = multi_hot(targets, outputs.shape[1], outputs.device).bool()
        self.counts += [int((present == truth).all(dim=1).sum()), len(targets)]

    def value(self) -> float:
        exact, seen = self.counts
        return exact / seen * 100.0 if seen else float("nan")

    def details(self) -> dict:
        return {"accuracy": self.value()}


def same_sets(expected: list[np.ndarray], got: list[np.ndarray]) -> float:
    return float(((expected[0] > 0) == (got[0] > 0)).all(axis=1).mean() * 100.0)


DATA_SOURCES.register(DataSource("digit-sets", KIND, load, "digit-sets[:COUNT]", check=_count))
TASKS.register(Task(name=KIND, metric="exact set %", loss=set_loss, predict_labels=lambda out: out > 0,
                    meter=ExactSetMeter, metric_name="exact set", targets=KIND, device_metric="label-set",
                    agent_module=str(Path(__file__).with_name("toy_label_sets_metric.py")), parity=same_sets,
                    parity_name="same set of classes", outputs_like="classification",
                    chance=lambda classes: 100.0 / 2 ** classes))  # a coin per class
