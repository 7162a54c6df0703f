"""Which distillation settings pay for this teacher, student and data? Successive halving (Jamieson & Talwalkar
2016) over methods x temperature x alpha (x balance for the feature methods): every candidate trains briefly,
the best third goes on with three times the budget, and the winner is trained fully by the distill stage.

Pure logic: the caller supplies `run_trial(candidate, epochs) -> validation metric`, so the same search serves
the distill stage and the benchmark."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

SCRATCH = "scratch"  # trained beside the candidates: a pick that cannot beat it is reported as such


@dataclass(frozen=True)
class Candidate:
    method: str
    temperature: float | None = None
    alpha: float = 0.0
    balance: float | None = None  # beta: auto's fraction (feature and relation methods)

    def label(self) -> str:
        parts = [self.method]
        if self.temperature is not None:  # KD, and the logit methods alone
            parts.append(f"T={self.temperature:g}")
        if self.alpha > 0 or self.balance is not None:  # KD's weight; 0 = a feature method alone
            parts.append(f"alpha={self.alpha:g}")
        if self.balance is not None:
            parts.append(f"balance={self.balance:g}")
        return " ".join(parts)

    def settings(self) -> dict:
        """The distill: keys this candidate sets."""
        out = {"method": self.method, "temperature": self.temperature, "alpha": self.alpha}
        return out | ({"balance": self.balance, "beta": "auto"} if self.balance is not None else {})


@dataclass
class Trial:
    rung: int
    candidate: str
    epochs: float
    val: float
    seconds: float
    settings: dict = field(default_factory=dict)


@dataclass
class SearchResult:
    pick: Candidate
    trials: list[Trial]
    seconds: float
    timed_out: bool
    beats_scratch: bool

    def to_dict(self) -> dict:
        return {"pick": self.pick.label(), "settings": self.pick.settings(), "seconds": self.seconds,
                "timed_out": self.timed_out, "beats_scratch": self.beats_scratch,
                "trials": [asdict(t) for t in self.trials]}


def trial_images(split, epochs: float, order, at_least: int = 1) -> tuple[object, int]:
    """A trial of `epochs` as (training images, whole epochs): below one epoch, that share of the split (the
    first positions of the fixed `order`) for one pass; above, the share that makes whole epochs add up."""
    whole = max(1, math.ceil(epochs - 1e-9))
    count = max(at_least, round(len(split) * epochs / whole))
    return (split if count >= len(split) else split.subset(np.sort(order[:count]))), whole


def candidates(methods: dict, task: str, has_layers: bool) -> list[Candidate]:
    """The grid: KD at T 2/4/8 and alpha 0.5/0.9; each logit method alone (at T 2/4 if it reads the temperature);
    each feature or relation method (when the recipe names layer pairs) alone and beside KD, at balance 0.25, and
    0.1 beside KD."""
    grid = [Candidate(SCRATCH)]
    with_kd = "kd" in methods and task in getattr(methods["kd"], "tasks", ("classification",))
    if with_kd:  # a detector's class scores are no softmax: KD is not among its methods
        grid += [Candidate("kd", t, a) for t in (2.0, 4.0, 8.0) for a in (0.5, 0.9)]
    for name, method in methods.items():
        if name == "kd" or task not in getattr(method, "tasks", ("classification",)):
            continue
        if method.needs_layers and not has_layers:
            continue
        if method.auto_balance and not with_kd:
            grid += [Candidate(name, None, 0.0, 0.25), Candidate(name, None, 0.0, 0.1)]
        elif method.auto_balance:
            grid += [Candidate(name, None, 0.0, 0.25), Candidate(name, 4.0, 0.9, 0.25),
                     Candidate(name, 4.0, 0.9, 0.1)]
        elif method.reads_temperature:
            grid += [Candidate(name, t, 0.0) for t in (2.0, 4.0)]
        else:  # its own options set its scale (cwd's temperature): one trial
            grid.append(Candidate(name, None, 0.0))
    return grid


def successive_halving(grid: list[Candidate], run_trial: Callable[[Candidate, float], float], full_epochs: float,
                       eta: int = 3, rungs: int = 2, time_budget: float | None = None,
                       say: Callable[[str], None] = lambda _: None) -> SearchResult:
    """Rung r trains each survivor for full_epochs / eta^(rungs - r) epochs; the best 1/eta go on, and after the
    last rung the best one is the pick. Out of time: the best of the furthest rung reached (said)."""
    start = time.perf_counter()
    trials: list[Trial] = []
    alive, timed_out, rung = list(grid), False, 0
    for rung in range(rungs):
        epochs = full_epochs / eta ** (rungs - rung)
        scores = []
        for cand in alive:
            if time_budget is not None and time.perf_counter() - start > time_budget:
                timed_out = True
                break
            began = time.perf_counter()
            val = run_trial(cand, epochs)
            trials.append(Trial(rung, cand.label(), round(epochs, 3), val, time.perf_counter() - began,
                                cand.settings()))
            scores.append((val, cand))
            say(f"  search rung {rung} ({epochs:.2f} epochs): {cand.label()}: {val:.2f}")
        ranked = [c for _, c in sorted(scores, key=lambda s: -s[0]) if c.method != SCRATCH]
        if timed_out or rung == rungs - 1 or not ranked:
            alive = ranked or alive
            break
        alive = ranked[:max(1, math.ceil(len(alive) / eta))]
    pick = alive[0]
    last = {t.candidate: t.val for t in trials if t.rung == 0}
    beats = last.get(pick.label(), float("nan")) >= last.get(Candidate(SCRATCH).label(), float("-inf"))
    return SearchResult(pick, trials, time.perf_counter() - start, timed_out, beats)
