"""How the budget search times models on its target: whole files as they would ship, and, to rank a step's
candidates before any of them is exported, per-layer latency tables of that target (stages/latency_table.py).
The step's move is always chosen among candidates timed whole: the table only decides which are worth timing.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from torch import nn

from edgeship.pipeline.formats.layer_error import module_of
from edgeship.pipeline.stages.budget_latency import (
    Measured,
    budget_format,
    budget_target,
    int8_float_layers,
    measure,
    time_layers,
)
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.latency_table import LatencyTable, layer_shapes, target_identity


def cost(score: float, latency_ms: float, now_ms: float) -> float:
    """Accuracy lost per millisecond saved (NetAdapt's choice); infinite when nothing is saved."""
    if latency_ms >= now_ms:
        return float("inf")
    return (max(0.0, -score) + 1e-3) / (now_ms - latency_ms)


def pick(scores: list[float], measured: list, now: Measured) -> int | None:
    """The move that loses the least accuracy per millisecond saved, among those timed whole that save time."""
    costs = [cost(s, m.latency_ms, now.latency_ms) if isinstance(m, Measured) else float("inf")
             for s, m in zip(scores, measured)]
    best = min(range(len(costs)), key=costs.__getitem__, default=None)
    return best if best is not None and costs[best] < float("inf") else None


class BudgetTiming:
    def __init__(self, ctx: Context, folder: Path, calibration, example):
        self.ctx, self.folder, self.calibration, self.example = ctx, folder, calibration, example
        self.float_layers: list[str] = []   # runtime layer names the shipped int8 file keeps float
        self.table: LatencyTable | None = None

    def whole(self, models: list[nn.Module]) -> list[Measured | str]:
        found = measure(models, self.ctx, self.folder, self.calibration, self.float_layers)
        shutil.rmtree(self.folder, ignore_errors=True)
        return found

    def as_shipped(self, model: nn.Module) -> Measured | str:
        """The model as it will ship (int8 with the layers the quantize stage's budget keeps float), timed; the
        first time, the target's identity opens its latency table."""
        self.float_layers = int8_float_layers(model, self.ctx, self.folder / "int8", self.calibration)
        found = self.whole([model])[0]
        if self.table is None and self.ctx.recipe.budget.lookup and isinstance(found, Measured):
            cfg, threads = budget_target(self.ctx.recipe)
            precision = self.ctx.recipe.quantize.model_dump(mode="json") if self.ctx.recipe.quantize.enabled else None
            self.table = LatencyTable(target_identity(cfg.model_dump(mode="json"), found.platform, found.runtime,
                                                      threads, f"{budget_format(self.ctx.recipe)} {precision}"))
        return found

    def table_said(self) -> dict | None:
        """The table's file, its size, and how many shapes this search timed (the rest came from the cache)."""
        if self.table is None:
            return None
        return {"path": str(self.table.path), "shapes": len(self.table.ms), "timed_now": self.table.timed_now}

    def _shapes(self, model: nn.Module):
        named = dict(model.named_modules())
        floats = {module_of(layer, named) for layer in self.float_layers}
        return layer_shapes(model, self.example, sorted(f for f in floats if f), self.ctx.recipe.quantize.enabled)

    def candidates(self, model: nn.Module, twins: list[nn.Module], scores: list[float], now: Measured
                   ) -> tuple[list[Measured | str], list[float | None]]:
        """Each candidate's whole-file figures, or why it has none; and its latency by the table (None without
        one). With a table, only the `budget.timed` best by estimated cost are timed whole."""
        estimates: list[float | None] = [None] * len(twins)
        if self.table is not None:
            before, afters = self._shapes(model), [self._shapes(t) for t in twins]
            layers = list(before.values()) + [s for after in afters for s in after.values()]
            self.table.fill(layers, lambda missing: time_layers(missing, self.ctx, self.folder / "layers"))
            shutil.rmtree(self.folder, ignore_errors=True)
            estimates = [self.table.estimate(now.latency_ms, before, after) for after in afters]
        if any(e is None for e in estimates):  # no table, or a layer it could not time: every candidate whole
            return self.whole(twins), estimates
        ranked = sorted(range(len(twins)), key=lambda i: cost(scores[i], estimates[i], now.latency_ms))
        chosen = [i for i in ranked if estimates[i] < now.latency_ms][:self.ctx.recipe.budget.timed] or ranked[:1]
        timed = dict(zip(chosen, self.whole([twins[i] for i in chosen])))
        return [timed.get(i, f"not timed whole: {estimates[i]:.3f} ms by the layer table")
                for i in range(len(twins))], estimates
