"""A budget step that saved far more than it aimed at is made smaller before it is taken. The step's moves are sized
by the layer table and, for a joint, by the singles' savings added linearly; both over-promised on a MobileNetV2 at
64 px (every group by 75% aimed at 0.197 ms from 0.281 and landed at 0.129, a quarter under the 0.176 ms budget:
the channels it need not have removed cost the winner accuracy). The same move with fewer channels removed from
each of its groups is timed whole, its size found by the secant through what the whole timings said (a layer's
time is close to linear in its channels; a joint's, where both ends of a layer lose channels, is not).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.layer_groups import GroupOrder, Joint, Move, parts

# a step that lands this share under its goal is made smaller: a share of the goal, not of the step, since a last
# step's goal is the budget, and half the step (0.055 ms of a 0.11 ms step) was a third of that budget
TOO_FAR = 0.1
TAKES = 0.75  # a smaller move counts as taking the step when it saves this share of the aimed reduction
REFINES = 2  # smaller moves tried at most, each timed whole


@dataclass(frozen=True)
class Tried:
    move: Move | Joint
    score: float  # accuracy change by adaptive BN, as the step's other candidates are scored
    measured: Measured | str


def overshoots(m: Measured, now_ms: float, goal_ms: float) -> bool:
    """Whether `m` lands more than TOO_FAR under `goal_ms` (whole-file ms) on the way from `now_ms`."""
    return m.latency_ms < goal_ms * (1 - TOO_FAR) < now_ms


def scaled(move: Move | Joint, factor: float, orders: dict[str, GroupOrder]) -> Move | Joint | None:
    """`move` with `factor` of its channels removed from each of its groups (at least one), the least important
    first as before; None where that leaves nothing to remove."""
    smaller = [orders[p.root].move(max(1, round(factor * len(p.idxs)))) for p in parts(move) if p.root in orders]
    smaller = [p for p in smaller if p.idxs]
    if not smaller:
        return None
    if isinstance(move, Joint):
        label = f"{move.label}, {factor:.0%} of it" if move.label else ""
        return Joint(tuple(smaller), label) if len(smaller) > 1 else smaller[0]
    return smaller[0]


def _next_factor(points: list[tuple[float, float]], goal_ms: float) -> float:
    """The share of the move whose latency meets `goal_ms`, by the secant between the nearest measured points on
    each side of it ((share of the move, whole ms); share 0 is the model as it stands)."""
    above = max((p for p in points if p[1] > goal_ms), key=lambda p: p[0])
    below = min((p for p in points if p[1] <= goal_ms), key=lambda p: p[0])
    if above[1] <= below[1] or below[0] <= above[0]:  # noise: no slope to follow, halfway
        return (above[0] + below[0]) / 2
    return above[0] + (below[0] - above[0]) * (above[1] - goal_ms) / (above[1] - below[1])


Evaluate = Callable[[Move | Joint], tuple[float, Measured | str]]  # a move -> (its score, its whole timing)


def refine(move: Move | Joint, found: Measured, now: Measured, goal_ms: float,
           orders: Callable[[], dict[str, GroupOrder]], evaluate: Evaluate) -> tuple[list[Tried], int | None]:
    """Smaller versions of the step's picked `move` (timed whole at `found`) while it overshoots `goal_ms`
    (`orders()`: every group by its root). Returns every one tried and the index of the one to take instead (the
    last that takes the step: TAKES of the aimed reduction), or None to keep `move`."""
    points, tried, taken = [(0.0, now.latency_ms), (1.0, found.latency_ms)], [], None
    last: Measured = found
    for _ in range(REFINES):
        if not overshoots(last, now.latency_ms, goal_ms):
            break
        factor = _next_factor(points, goal_ms)
        smaller = scaled(move, factor, orders())
        if smaller is None or smaller in (t.move for t in tried) or smaller == move:
            break
        score, m = evaluate(smaller)
        tried.append(Tried(smaller, score, m))
        if not isinstance(m, Measured):
            break
        points.append((factor, m.latency_ms))
        if m.latency_ms <= now.latency_ms - TAKES * (now.latency_ms - goal_ms):
            taken, last = len(tried) - 1, m
    return tried, taken
