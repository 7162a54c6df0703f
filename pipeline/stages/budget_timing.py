"""How the budget search times models on its target: whole files as they would ship, and, to rank a step's
candidates before any of them is exported, per-layer latency tables of that target (stages/latency_table.py).
The step's move is always chosen among candidates timed whole: the table only decides which are worth timing.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from torch import nn

from edgeship.pipeline.formats.layer_error import module_of
from edgeship.pipeline.stages.budget_latency import (
    Measured,
    bench_files,
    budget_formats,
    budget_target,
    int8_float_layers,
    measure,
    model_file,
    time_layers,
)
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.latency_table import LatencyTable, layer_shapes, target_identity


def cost(score: float, after: float, now: float) -> float:
    """Accuracy lost per unit of resource saved (NetAdapt's choice: milliseconds, or kilobytes under a size
    budget); infinite when nothing is saved."""
    if after >= now:
        return float("inf")
    return (max(0.0, -score) + 1e-3) / (now - after)


def resource(now: Measured, budget) -> Callable[[Measured], float]:
    """What a step must save (NetAdapt's resource): the constraint furthest over its limit, latency by the model's
    own inference time. Under a size budget the file's kilobytes decide, not milliseconds: a pruned 24 px UNet's
    int8 file was smaller but no faster on the AVX-512 EPYC, and a latency-only choice stalled there."""
    over = {"latency": now.high_ms / budget.latency_ms if budget.latency_ms else 0.0,
            "size": now.size_kb / budget.size_kb if budget.size_kb else 0.0,
            "memory": (now.peak_rss_mb or 0.0) / budget.peak_rss_mb if budget.peak_rss_mb else 0.0}
    binding = max(over, key=over.__getitem__)
    if over[binding] <= 1.0:  # every constraint holds (a search still stepping is out of time): latency
        binding = "latency"
    return {"latency": lambda m: m.inference_ms, "size": lambda m: m.size_kb,
            "memory": lambda m: m.peak_rss_mb or 0.0}[binding]


def pick(scores: list[float], measured: list, now: Measured, budget, reach_ms: float | None = None) -> int | None:
    """The step's move. Under a latency step sized to a goal, where candidates timed whole reach `reach_ms`, the
    one of those that loses the least accuracy (NetAdapt's choice among the candidates that take the step; the
    faster on a tie): by accuracy per millisecond, a move three times the step's goal won at 35% of a
    MobileNetV2's latency, overshooting the budget by a quarter for 10 points of validation accuracy. Otherwise
    the one that loses the least accuracy per unit of the binding resource saved (`resource`), among those that
    save some."""
    if reach_ms is not None and budget.latency_ms is not None and now.high_ms > budget.latency_ms:
        reaching = [i for i, m in enumerate(measured) if isinstance(m, Measured) and m.latency_ms <= reach_ms]
        if reaching:
            return max(reaching, key=lambda i: (scores[i], -measured[i].latency_ms))
    amount = resource(now, budget)
    costs = [cost(s, amount(m), amount(now)) if isinstance(m, Measured) else float("inf")
             for s, m in zip(scores, measured)]
    best = min(range(len(costs)), key=costs.__getitem__, default=None)
    return best if best is not None and costs[best] < float("inf") else None


def shortfall(m: Measured, budget) -> float:
    """How far `m` is from its budget: the largest of its figures over their limits, 1.0 where every one holds
    (latency by the upper end of its interval). Formats are compared by it: a size budget favours the smaller
    int8 file even where fp32 runs faster; a latency budget alone, the fastest."""
    ratios = [m.high_ms / budget.latency_ms if budget.latency_ms else 0.0,
              m.size_kb / budget.size_kb if budget.size_kb else 0.0,
              (m.peak_rss_mb or 0.0) / budget.peak_rss_mb if budget.peak_rss_mb else 0.0]
    return max(1.0, *ratios)


class BudgetTiming:
    def __init__(self, ctx: Context, folder: Path, calibration, example, shipped_calibration=None):
        self.ctx, self.folder, self.calibration, self.example = ctx, folder, calibration, example
        # the quantize stage's own calibration set: the start's and the winner's files are made with it, so the
        # file confirmed is the one that ships (64 images kept fewer layers float than the stage's budget did, and
        # a 14 KB confirmed winner shipped no file within a 19.5 KB size budget)
        self.shipped_calibration = calibration if shipped_calibration is None else shipped_calibration
        self.float_layers: list[str] = []   # runtime layer names the shipped int8 file keeps float
        self.table: LatencyTable | None = None
        # the table that last ranked candidates: a step that moves the search to fp32 opens a new, empty one
        self.consulted: LatencyTable | None = None
        self.format = budget_formats(ctx.recipe)[0]  # the format the search times in (chosen at the start)
        self.threads = budget_target(ctx.recipe)[1][0]  # the thread count it times at (chosen with the format)
        self.int8 = ctx.recipe.quantize.enabled  # the precision the search times in
        self.at_start: dict[str, dict | str] = {}  # the student in each format and precision, as first timed
        self.at_confirm: dict[str, dict | str] = {}  # the last confirmed winner in each, timed the same way

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else "fp32"

    def whole(self, models: list[nn.Module], int8: bool | None = None) -> list[Measured | str]:
        """Each model timed whole in the search's format and precision (`int8`: another precision)."""
        found = measure(models, self.ctx, self.folder, self.calibration, self.float_layers, self.format,
                        self.threads, self.int8 if int8 is None else int8)
        shutil.rmtree(self.folder, ignore_errors=True)
        return found

    def as_shipped(self, model: nn.Module, every_format: bool = False) -> Measured | str:
        """The model as it will ship (int8 with the layers the quantize stage's budget keeps float), timed. The
        first time, and wherever `every_format` asks (the winner's confirmation), it is timed in every format the
        budget allows, int8 and fp32, at each thread count it allows (one agent run per count), and the search
        goes on in the best (the fastest, or the smallest under a size budget: `shortfall`): int8 is not faster on
        every CPU nor for every small model (a pruned digits CNN ran 0.009 ms fp32 against 0.024 ms int8), neither
        is one runtime, and a second thread can cost a small model more than it saves. Then the target's identity
        opens the layer table of that format, precision and thread count."""
        if self.at_start and not every_format:
            if self.int8:  # once the search times fp32, the int8 budget's float layers are not needed
                self.float_layers = self._float_layers(model, self.format)
            found = self.whole([model])[0]
        else:
            before = (self.format, self.int8, self.threads)
            found, timings = self._best_format(model)
            if not self.at_start:
                self.at_start = timings
            else:
                self.at_confirm = timings
            if (self.format, self.int8, self.threads) != before:  # the old table no longer applies
                self.table = None
        self._open_table(found)
        return found

    def fp32_if_faster(self, model: nn.Module, pick: nn.Module, found: Measured) -> tuple[Measured, Measured] | None:
        """In an int8 search, the step's pick (timed whole at `found`) and the model as it stands, timed whole in
        fp32 in one agent run: where the pick is faster in fp32 by the whole of both intervals and no further from
        the budget (a size budget keeps the small int8 file), the search goes on in fp32 from this step, and
        returns (the model now, the pick) in fp32, so that the step is sized (stages/budget_refine.py) on the
        precision it will run in. Pruning moves the point where int8's quantize and dequantize overhead outweighs
        its faster kernels: a MobileNetV2 pruned to half its latency ran 0.077 ms fp32 against 0.101 int8 (64 px,
        AVX-512); judged after the step instead, a pick at 0.146 ms int8 ran 0.094 in fp32, a third under the
        0.147 ms budget it had been sized for (Xeon with AMX)."""
        if not self.int8:
            return None
        now32, pick32 = self.whole([model, pick], int8=False)
        budget = self.ctx.recipe.budget
        if not (isinstance(now32, Measured) and isinstance(pick32, Measured) and pick32.high_ms < found.low_ms
                and shortfall(pick32, budget) <= shortfall(found, budget)):
            return None
        self.int8, self.table = False, None  # the int8 layer table no longer applies
        self._open_table(pick32)
        return now32, pick32

    def _open_table(self, found: Measured | str) -> None:
        """The target's layer table for the search's format and precision, once the target has said who it is."""
        recipe = self.ctx.recipe
        if self.table is None and recipe.budget.lookup and isinstance(found, Measured):
            cfg = budget_target(recipe)[0]
            precision = recipe.quantize.model_dump(mode="json") if self.int8 else "fp32"
            self.table = LatencyTable(target_identity(cfg.model_dump(mode="json"), found.platform, found.runtime,
                                                      self.threads, f"{self.format} {precision}"))

    def state(self) -> dict:
        """What the search chose at its start, for its checkpoint."""
        return {"format": self.format, "int8": self.int8, "threads": self.threads, "float_layers": self.float_layers,
                "at_start": self.at_start, "at_confirm": self.at_confirm}

    def restore(self, state: dict, now: Measured) -> None:
        self.format, self.int8, self.float_layers = state["format"], state["int8"], state["float_layers"]
        self.threads = state.get("threads", self.threads)
        self.at_start, self.at_confirm = state["at_start"], state.get("at_confirm", {})
        self._open_table(now)

    def _float_layers(self, model: nn.Module, fmt: str, calibration=None) -> list[str]:
        return int8_float_layers(model, self.ctx, self.folder / f"{fmt}-int8",
                                 self.calibration if calibration is None else calibration, fmt)

    def _best_format(self, model: nn.Module) -> tuple[Measured | str, dict[str, dict | str]]:
        """Every allowed format in each precision the recipe can ship, at each thread count the budget allows,
        timed under the same conditions (one agent run per count); the search goes on in the one nearest its
        budget (`shortfall`), the fastest of those that meet it. Returns its figures and every one's (one that
        cannot be made or timed is recorded with why), keyed "format precision" ("@Nt" added with several counts)."""
        precisions = ("int8", "fp32") if self.ctx.recipe.quantize.enabled else ("fp32",)
        made: dict[tuple[str, str], tuple[Path, list[str]] | str] = {}
        for fmt in budget_formats(self.ctx.recipe):
            for precision in precisions:
                try:
                    floats = self._float_layers(model, fmt, self.shipped_calibration) if precision == "int8" else []
                    path = model_file(model, self.ctx, self.folder / f"{fmt}-{precision}", self.shipped_calibration,
                                      floats, fmt, int8=precision == "int8")
                    made[fmt, precision] = (path, floats)
                except Exception as e:  # a format that cannot hold this model: the others still compete
                    made[fmt, precision] = f"{type(e).__name__}: {e}".splitlines()[0]
        files = {key: value for key, value in made.items() if not isinstance(value, str)}
        counts = budget_target(self.ctx.recipe)[1]
        found: dict[tuple[str, str, int], Measured | str] = {}
        for threads in counts:
            timed = dict(zip(files, bench_files([(path, fmt) for (fmt, _), (path, _) in files.items()], self.ctx,
                                                threads)))
            found.update({(*key, threads): timed.get(key, made[key]) for key in made})
        shutil.rmtree(self.folder, ignore_errors=True)
        timings = {f"{fmt} {precision}" + (f" @{threads}t" if len(counts) > 1 else ""): getattr(m, "__dict__", str(m))
                   for (fmt, precision, threads), m in found.items()}
        measured = {key: m for key, m in found.items() if isinstance(m, Measured)}
        if not measured:
            return next(iter(found.values())), timings
        fmt, precision, threads = min(measured, key=lambda key: (shortfall(measured[key], self.ctx.recipe.budget),
                                                                 measured[key].latency_ms))
        self.format, self.int8, self.threads = fmt, precision == "int8", threads
        self.float_layers = files[fmt, precision][1]
        return measured[fmt, precision, threads], timings

    def table_said(self) -> dict | None:
        """The file of the table that last ranked candidates (else the open one), its size, and how many shapes this
        search timed in it (the rest came from the cache)."""
        table = self.consulted or self.table
        if table is None:
            return None
        return {"path": str(table.path), "shapes": len(table.ms), "timed_now": table.timed_now}

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
        self.consulted = self.table
        self.table.fill(layers, lambda missing: time_layers(missing, self.ctx, self.folder / "layers", self.format,
                                                            self.threads))
        shutil.rmtree(self.folder, ignore_errors=True)
        return [self.table.estimate(now.latency_ms, before, after) for after in afters]

    def estimate_moves(self, model: nn.Module, moves: list, make_twin, now: Measured) -> list[float | None]:
        """The table's latency of each move (`make_twin(move)` -> the pruned copy, made one at a time)."""
        return self._estimates(model, [self._shapes(make_twin(move)) for move in moves], now)

    def candidates(self, model: nn.Module, twins: list[nn.Module], scores: list[float], now: Measured,
                   reach_ms: float | None = None) -> tuple[list[Measured | str], list[float | None]]:
        """Each candidate's whole-file figures, or why it has none; and its latency by the table (None without
        one). With a table, only the `budget.timed` best are timed whole: those the table says reach `reach_ms` (take
        the step) first, least accuracy lost first, then the rest by estimated cost."""
        estimates: list[float | None] = [None] * len(twins)
        if self.table is not None:
            estimates = self._estimates(model, [self._shapes(t) for t in twins], now)
        if any(e is None for e in estimates):  # no table, or a layer it could not time: every candidate whole
            return self.whole(twins), estimates
        def rank(i: int) -> tuple[bool, float]:  # those the table says reach the goal first, least loss first
            reaches = reach_ms is not None and estimates[i] <= reach_ms
            return not reaches, -scores[i] if reaches else cost(scores[i], estimates[i], now.latency_ms)

        ranked = sorted(range(len(twins)), key=rank)
        chosen = [i for i in ranked if estimates[i] < now.latency_ms][:self.ctx.recipe.budget.timed] or ranked[:1]
        timed = dict(zip(chosen, self.whole([twins[i] for i in chosen])))
        return [timed.get(i, f"not timed whole: {estimates[i]:.3f} ms by the layer table")
                for i in range(len(twins))], estimates
