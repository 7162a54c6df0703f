"""The budget search's candidate moves for a step: one per group with the most MACs, sized by the target's layer
table to the step's latency goal, and moves of several groups at once where no single group reaches it
(stages/budget_step_size.py)."""
from __future__ import annotations

from functools import partial

from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_step_size import joint_moves, sized_moves
from edgeship.pipeline.stages.budget_timing import BudgetTiming
from edgeship.pipeline.stages.layer_groups import GroupOrder, Joint, LayerGroups, Move


def layer_macs(model, example) -> dict[str, int]:
    """MACs of each convolution / linear layer, by module name (the groups' roots are ranked by them)."""
    from torch import nn

    macs: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: macs.__setitem__(
        name, int(out.numel() * mod.weight[0].numel()))) for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()(example)
    for hook in hooks:
        hook.remove()
    return macs


def step_moves(groups: LayerGroups, model, example, timing: BudgetTiming, now: Measured, goal: float | None,
                budget) -> list[Move]:
    """The step's candidate moves, one per group with the most MACs: sized by the layer table to the step's
    latency goal (stages/budget_step_size.py), or `budget.step_share` of each group's channels without one."""
    orders = groups.orders(layer_macs(model, example), budget.candidates)
    if timing.table is None:
        return [m for m in (order.move(round(budget.step_share * order.channels)) for order in orders) if m.idxs]
    estimate = partial(timing.estimate_moves, model, make_twin=groups.candidate, now=now)
    return sized_moves(orders, goal, now.latency_ms, estimate)


def joint_candidates(groups: LayerGroups, model, example, timing: BudgetTiming, now: Measured, goal: float,
                 singles: list[Move], scores: list[float]) -> list[Joint]:
    """Moves of several groups together where no single group reaches the step's goal by the layer table
    (stages/budget_step_size.py)."""
    estimates = timing.estimate_moves(model, singles, make_twin=groups.candidate, now=now)
    every_group = list(orders_by_root(groups, model, example).values())
    return joint_moves(every_group, singles, scores, estimates, goal, now.latency_ms)


def orders_by_root(groups: LayerGroups, model, example) -> dict[str, GroupOrder]:
    """Every group that still has channels to give, by its root layer, the most MACs first."""
    return {o.root: o for o in groups.orders(layer_macs(model, example), len(dict(model.named_modules())))}
