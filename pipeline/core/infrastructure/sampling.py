"""Stratified sampling: the same number of samples from every class, as near as the count allows."""
from __future__ import annotations

import numpy as np


def stratified_indices(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sorted indices of min(count, len(labels)) samples, dealt round-robin over the classes (fixed seed)."""
    rng = np.random.default_rng(seed)
    count = min(count, len(labels))
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked: list[int] = []
    depth = 0
    while len(picked) < count:
        for members in per_class:
            if depth < len(members) and len(picked) < count:
                picked.append(int(members[depth]))
        depth += 1
    return np.sort(np.asarray(picked, dtype=np.int64))
