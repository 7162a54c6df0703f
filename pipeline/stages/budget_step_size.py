"""How much a budget step prunes (NetAdapt, Yang et al. 2018): each step aims at a latency reduction, a share of the
student's starting latency (`budget.step_reduction`; never deeper than the budget itself asks), and each candidate
group loses as many channels as the target's layer table says that reduction takes. The table is read at a few
removal shares per group, and the count that meets the step's goal is interpolated between them (a layer's time is
close to linear in its channels between two measured points).

Two figures of the steps so far (`Pace`) correct that aim. The table's savings are scaled by what candidates timed
whole really saved (layers timed alone can over-promise; on the EPYC the median error was 2%). Where no one group's
largest move reaches the goal (steps of one group saved 2-5% each there), joint moves take several. And a budget
far away with little search time left takes larger steps: the remaining distance shared among the steps the time
left allows at the pace so far.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable

from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_timing import cost
from edgeship.pipeline.stages.layer_groups import GroupOrder, Joint, Move

GRID = (0.25, 0.5, 0.75, 0.9)  # shares of a group's channels at which its removal is estimated
AIM_BELOW = 0.02  # the last step aims this share under the budget: the table's estimates were within 1-4%
GAIN_RANGE = (0.25, 2.0)  # the table's correction is kept within this: a few noisy timings decide it
SLACK = 2.0  # steps are sized to reach the budget in 1/SLACK of the time left: a step that saves less costs one more
REACH = 0.5  # a candidate that saves this share of the step's aimed reduction counts as taking the step
MAX_SHARE = 0.75  # the most of every group one joint step removes (uniform pruning at 0.83 lost 8 points)


@dataclass(frozen=True)
class Pace:
    """What the steps so far say about the next one."""
    steps_left: float  # steps the search time left allows at the pace so far, less the slack (at least 1)
    table_gain: float  # what candidates timed whole saved over what the layer table said they would (median)


def pace(steps: list, seconds: float, max_seconds: float) -> Pace:
    """`steps`: the search's steps so far (stages/budget_steps.py), `seconds` into a search of `max_seconds`. A
    step's seconds are its own (a winner's fine-tune is not a step's pace); before the first, the start's
    measurements stand in for one."""
    durations = [b.seconds - a.seconds for a, b in zip(steps, steps[1:]) if not b.confirms]
    per_step = statistics.mean(durations) if durations else max(seconds, 1.0)
    gains = []
    for before, step in zip(steps, steps[1:]):
        was = before.measured.latency_ms
        gains += [(was - t["latency_ms"]) / (was - t["estimated_ms"]) for t in step.tried
                  if "latency_ms" in t and t.get("estimated_ms") is not None and t["estimated_ms"] < was]
    gain = min(max(statistics.median(gains), GAIN_RANGE[0]), GAIN_RANGE[1]) if gains else 1.0
    return Pace(max(1.0, (max_seconds - seconds) / (SLACK * per_step)), gain)


def step_goal(now: Measured, start_ms: float, budget, pace: Pace | None = None) -> float:
    """The latency by the layer table this step aims at: `step_reduction` of the starting latency less than now,
    or the distance to the budget over the steps `pace` says are left where that is more, but no lower than the
    budget needs (the budget less the interval's upper margin, less AIM_BELOW) while its latency is not met. The
    reduction is then divided by the table's gain: a table that promised twice what whole files saved is asked
    for twice the saving."""
    goal = now.latency_ms - budget.step_reduction * start_ms
    if budget.latency_ms is not None and now.high_ms > budget.latency_ms:  # met: the steps are for size or RSS
        aim = budget.latency_ms * (1 - AIM_BELOW) - (now.high_ms - now.latency_ms)
        if pace is not None:
            goal = min(goal, now.latency_ms - (now.latency_ms - aim) / pace.steps_left)
        goal = max(goal, aim)
    return now.latency_ms - (now.latency_ms - goal) / (pace.table_gain if pace is not None else 1.0)


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
            if move.idxs:  # a group at its floor (layer_groups.MIN_CHANNELS) has no move
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


def reach_ms(goal_ms: float, now_ms: float) -> float:
    """The latency a candidate must reach to count as taking the step: REACH of the aimed reduction. NetAdapt
    chooses among the candidates that meet the step's goal; choosing by cost alone among every candidate took
    one group's smallest useful move, step after step, however far the budget was."""
    return now_ms - REACH * (now_ms - goal_ms)


def joint_moves(every_group: list[GroupOrder], singles: list[Move], scores: list[float],
                estimates: list[float | None], goal_ms: float, now_ms: float) -> list[Joint]:
    """Candidates that move several groups at once, where no single group's move reaches the step's goal by the
    table (`singles`, their accuracy change `scores` and latency `estimates`): the groups cheapest in accuracy per
    millisecond, added until their savings add up to the goal; and every group by one share, as much as the
    singles' savings, scaled linearly, say the goal takes (at most MAX_SHARE): uniform pruning's own move, so a
    step is never worse than it."""
    saving = [(i, now_ms - e) for i, e in enumerate(estimates) if e is not None and e < now_ms]
    if not saving or any(now_ms - s <= goal_ms for _, s in saving):
        return []
    needed, joints = now_ms - goal_ms, []
    chosen, saved = [], 0.0
    for i, s in sorted(saving, key=lambda pair: cost(scores[pair[0]], estimates[pair[0]], now_ms)):
        chosen.append(singles[i])
        saved += s
        if saved >= needed:
            break
    if len(chosen) > 1:
        joints.append(Joint(tuple(chosen)))
    per_share = sum(s / (len(singles[i].idxs) / singles[i].channels) for i, s in saving)
    share = min(MAX_SHARE, math.ceil(20 * needed / per_share) / 20)  # to 5%: the estimate is rough
    moves = tuple(m for m in (order.move(round(share * order.channels)) for order in every_group) if m.idxs)
    if len(moves) > 1:
        joints.append(Joint(moves, f"every group by {share:.0%}"))
    return joints
