"""How much a budget step prunes (NetAdapt, Yang et al. 2018): each step aims at a latency reduction, a share of
the student's starting latency (`budget.step_reduction`; never deeper than the budget itself asks), and each
candidate group loses as many channels as the target's layer table says that reduction takes. The table is read
at a few removal shares per group, and the count that meets the step's goal is interpolated between them (a
layer's time is close to linear in its channels between two measured points).
"""
from __future__ import annotations

import math
from typing import Callable

from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.layer_groups import GroupOrder, Move

GRID = (0.25, 0.5, 0.75, 0.9)  # shares of a group's channels at which its removal is estimated
AIM_BELOW = 0.02  # the last step aims this share under the budget: the table's estimates were within 1-4%


def step_goal(now: Measured, start_ms: float, budget) -> float:
    """The latency this step aims at: `step_reduction` of the starting latency less than now, but no lower than
    the budget needs (the budget less the interval's upper margin, less AIM_BELOW) while its latency is not met."""
    goal = now.latency_ms - budget.step_reduction * start_ms
    if budget.latency_ms is not None and now.high_ms > budget.latency_ms:  # met: the steps are for size or RSS
        goal = max(goal, budget.latency_ms * (1 - AIM_BELOW) - (now.high_ms - now.latency_ms))
    return goal


def _count_for(points: list[tuple[int, float]], goal_ms: float) -> int | None:
    """The fewest channels to remove for `goal_ms`, interpolated between (removed, estimated ms) points."""
    for (n0, ms0), (n1, ms1) in zip(points, points[1:]):
        if ms1 <= goal_ms:
            if ms0 <= ms1:  # estimates within their noise: no slope to follow
                return n1
            return n0 + max(1, math.ceil((n1 - n0) * (ms0 - goal_ms) / (ms0 - ms1) - 1e-9))
    return None


def sized_moves(orders: list[GroupOrder], goal_ms: float, now_ms: float,
                estimate: Callable[[list[Move]], list[float | None]]) -> list[Move]:
    """One move per group, as large as the step's goal needs by the table (`estimate`: moves -> estimated ms).
    Groups that cannot reach the goal are left out, as NetAdapt does; if none can, each group's largest move
    on the grid stands (the step then saves what it can)."""
    grid = {}
    for order in orders:
        for share in GRID:
            move = order.move(round(share * order.channels))
            grid[(order.root, len(move.idxs))] = move
    estimated = dict(zip(grid, estimate(list(grid.values()))))
    sized, largest = [], []
    for order in orders:
        points = [(0, now_ms)] + sorted((count, ms) for (root, count), ms in estimated.items()
                                        if root == order.root and ms is not None)
        if len(points) == 1:
            continue
        largest.append(order.move(points[-1][0]))
        count = _count_for(points, goal_ms)
        if count is not None:
            sized.append(order.move(count))
    return sized or largest
