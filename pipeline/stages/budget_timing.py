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
    bench_files,
    budget_format,
    budget_target,
    int8_float_layers,
    measure,
    model_file,
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
        self.int8 = ctx.recipe.quantize.enabled  # the precision the search times in
        self.at_start: dict[str, dict | str] = {}  # the student in each precision, as first timed

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else "fp32"

    def whole(self, models: list[nn.Module]) -> list[Measured | str]:
        found = measure(models, self.ctx, self.folder, self.calibration, self.float_layers, self.int8)
        shutil.rmtree(self.folder, ignore_errors=True)
        return found

    def as_shipped(self, model: nn.Module) -> Measured | str:
        """The model as it will ship (int8 with the layers the quantize stage's budget keeps float), timed. The
        first time, its fp32 file is timed too, and the search goes on in the faster precision (int8 is not
        faster on every CPU, nor for every small model); then the target's identity opens its latency table."""
        recipe = self.ctx.recipe
        if self.int8:  # once the search times fp32, the int8 budget's float layers are not needed
            self.float_layers = int8_float_layers(model, self.ctx, self.folder / "int8", self.calibration)
        if self.at_start or not recipe.quantize.enabled:
            found = self.whole([model])[0]
        else:
            found = self._faster_precision(model)
        if self.table is None and recipe.budget.lookup and isinstance(found, Measured):
            cfg, threads = budget_target(recipe)
            precision = recipe.quantize.model_dump(mode="json") if self.int8 else "fp32"
            self.table = LatencyTable(target_identity(cfg.model_dump(mode="json"), found.platform, found.runtime,
                                                      threads, f"{budget_format(recipe)} {precision}"))
        return found

    def _faster_precision(self, model: nn.Module) -> Measured | str:
        files = [model_file(model, self.ctx, self.folder / precision, self.calibration, self.float_layers,
                            int8=precision == "int8") for precision in ("int8", "fp32")]
        int8, fp32 = bench_files(files, self.ctx)  # one agent run: both timed under the same conditions
        shutil.rmtree(self.folder, ignore_errors=True)
        self.at_start = {"int8": getattr(int8, "__dict__", str(int8)), "fp32": getattr(fp32, "__dict__", str(fp32))}
        if isinstance(int8, Measured) and isinstance(fp32, Measured) and fp32.latency_ms < int8.latency_ms:
            self.int8 = False
            return fp32
        return int8

    def table_said(self) -> dict | None:
        """The table's file, its size, and how many shapes this search timed (the rest came from the cache)."""
        if self.table is None:
            return None
        return {"path": str(self.table.path), "shapes": len(self.table.ms), "timed_now": self.table.timed_now}

    def _shapes(self, model: nn.Module):
        named = dict(model.named_modules())
        floats = {module_of(layer, named) for layer in self.float_layers}
        return layer_shapes(model, self.example, sorted(f for f in floats if f), self.int8)

    def _estimates(self, model: nn.Module, afters: list[dict], now: Measured) -> list[float | None]:
        """Each candidate's latency by the table (its layer shapes `afters`), timing the shapes it lacks."""
        before = self._shapes(model)
        # only the layers a move changes enter an estimate: the rest of the model is never timed alone
        layers = [shape for after in afters for name, shape in after.items() if before.get(name) != shape]
        layers += [before[name] for after in afters for name in before if after.get(name) != before[name]]
        self.table.fill(layers, lambda missing: time_layers(missing, self.ctx, self.folder / "layers"))
        shutil.rmtree(self.folder, ignore_errors=True)
        return [self.table.estimate(now.latency_ms, before, after) for after in afters]

    def estimate_moves(self, model: nn.Module, moves: list, make_twin, now: Measured) -> list[float | None]:
        """The table's latency of each move (`make_twin(move)` -> the pruned copy, made one at a time)."""
        return self._estimates(model, [self._shapes(make_twin(move)) for move in moves], now)

    def candidates(self, model: nn.Module, twins: list[nn.Module], scores: list[float], now: Measured
                   ) -> tuple[list[Measured | str], list[float | None]]:
        """Each candidate's whole-file figures, or why it has none; and its latency by the table (None without
        one). With a table, only the `budget.timed` best by estimated cost are timed whole."""
        estimates: list[float | None] = [None] * len(twins)
        if self.table is not None:
            estimates = self._estimates(model, [self._shapes(t) for t in twins], now)
        if any(e is None for e in estimates):  # no table, or a layer it could not time: every candidate whole
            return self.whole(twins), estimates
        ranked = sorted(range(len(twins)), key=lambda i: cost(scores[i], estimates[i], now.latency_ms))
        chosen = [i for i in ranked if estimates[i] < now.latency_ms][:self.ctx.recipe.budget.timed] or ranked[:1]
        timed = dict(zip(chosen, self.whole([twins[i] for i in chosen])))
        return [timed.get(i, f"not timed whole: {estimates[i]:.3f} ms by the layer table")
                for i in range(len(twins))], estimates
