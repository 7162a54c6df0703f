"""NetAdapt's step sizing: each group loses as many channels as the layer table says the step's latency goal
takes, interpolated between the removal shares it was estimated at; groups that cannot reach it are left out."""
from types import SimpleNamespace

from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_step_size import (
    AIM_BELOW,
    GRID,
    MAX_SHARE,
    SLACK,
    Pace,
    joint_moves,
    pace,
    reach_ms,
    sized_moves,
    step_goal,
)
from edgeship.pipeline.stages.budget_timing import pick
from edgeship.pipeline.stages.layer_groups import MIN_CHANNELS, GroupOrder


def _linear_table(ms_per_channel: dict[str, float], now_ms: float, asked: list):
    """A table in which removing a channel of group g saves ms_per_channel[g] (what a layer's time near-linear in
    its channels gives)."""
    def estimate(moves):
        asked.append(len(moves))
        return [now_ms - ms_per_channel[m.root] * len(m.idxs) for m in moves]
    return estimate


def test_each_group_loses_what_the_goal_takes_and_groups_that_cannot_are_left_out():
    orders = [GroupOrder("wide", tuple(range(64)), 8), GroupOrder("narrow", tuple(range(16)), 1),
              GroupOrder("cheap", tuple(range(32)), 8)]
    asked = []
    moves = sized_moves(orders, 9.0, 10.0, _linear_table({"wide": 0.05, "narrow": 0.2, "cheap": 0.01}, 10.0, asked))
    by_root = {m.root: m for m in moves}
    # one table lookup: every group at every share, the shares that reach the floor of 8 channels once
    assert asked == [len(GRID) * 3 - 3]
    assert len(by_root["wide"].idxs) == 24    # 1 ms at 0.05 ms a channel is 20; 44 kept rounds down to 40
    assert len(by_root["narrow"].idxs) == 5   # 1 ms at 0.2 ms a channel
    assert "cheap" not in by_root             # 0.01 ms a channel: 29 channels save 0.29 ms, never 1 ms
    assert by_root["wide"].idxs == tuple(range(24))  # the least important first


def test_when_no_group_reaches_the_goal_each_gives_its_largest_move():
    orders = [GroupOrder("a", tuple(range(64)), 8), GroupOrder("b", tuple(range(64)), 8)]
    moves = sized_moves(orders, 5.0, 10.0, _linear_table({"a": 0.001, "b": 0.002}, 10.0, []))
    assert [len(m.idxs) for m in moves] == [56, 56]  # 90% of 64 would keep 6: the floor keeps 8


def test_the_step_goal_is_a_share_of_the_start_and_never_below_the_budget():
    budget = SimpleNamespace(step_reduction=0.1, latency_ms=8.0)
    now = Measured(9.5, 9.4, 9.6, 100.0, None)
    assert step_goal(Measured(20.0, 19.9, 20.1, 100.0, None), 20.0, budget) == 18.0
    assert abs(step_goal(now, 20.0, budget) - (8.0 * (1 - AIM_BELOW) - 0.1)) < 1e-9
    assert step_goal(now, 20.0, SimpleNamespace(step_reduction=0.1, latency_ms=None)) == 7.5  # a size budget
    assert step_goal(Measured(5.0, 4.9, 5.1, 100.0, None), 20.0, budget) == 3.0  # latency met: a size step


def test_kept_channels_are_a_multiple_of_round_to_where_that_many_remain():
    wide, narrow = GroupOrder("wide", tuple(range(64)), 8), GroupOrder("narrow", tuple(range(12)), 8)
    assert [wide.move(n).kept for n in (1, 8, 31, 32, 57, 60, 99)] == [56, 56, 32, 32, 8, 8, 8]  # never under 8
    assert [narrow.move(n).kept for n in (1, 4, 5, 11)] == [8, 8, 8, 8]
    assert not GroupOrder("floor", tuple(range(8)), 8).move(4).idxs  # at the floor: nothing to remove
    assert GroupOrder("exact", tuple(range(64))).move(31).kept == 33  # round_to 1: the count asked


def _step(n: int, ms: float, seconds: float, tried=(), move="prune"):
    from edgeship.pipeline.stages.budget_steps import Step
    return Step(n, move, 0, 80.0, Measured(ms, ms * 0.99, ms * 1.01, 100.0, None), seconds, tuple(tried))


def test_the_pace_scales_the_table_by_what_whole_files_saved_and_counts_the_steps_time_allows():
    steps = [_step(0, 10.0, 50.0),
             _step(1, 9.5, 150.0, [{"estimated_ms": 9.0, "latency_ms": 9.5}, {"estimated_ms": 9.2, "latency_ms": 9.6}]),
             _step(2, 9.3, 600.0, move="fine-tuned, onnx int8 as shipped"),  # a winner's fine-tune: not a step's pace
             _step(3, 8.8, 700.0, [{"estimated_ms": 8.3, "latency_ms": 8.8}, {"move": "not timed whole"}])]
    sofar = pace(steps, 700.0, 1800.0)
    assert sofar.table_gain == 0.5  # savings 0.5 of 1.0, 0.4 of 0.8, 0.5 of 1.0
    assert sofar.steps_left == (1800.0 - 700.0) / (SLACK * 100.0)
    assert pace(steps[:1], 50.0, 1800.0) == Pace((1800.0 - 50.0) / (SLACK * 50.0), 1.0)  # before any step
    assert pace(steps, 1790.0, 1800.0).steps_left == 1.0


def test_the_goal_asks_the_table_for_what_whole_files_will_save_and_strides_when_time_is_short():
    budget = SimpleNamespace(step_reduction=0.1, latency_ms=2.0)
    now = Measured(10.0, 9.9, 10.1, 100.0, None)
    assert step_goal(now, 10.0, budget, Pace(100.0, 1.0)) == 9.0  # plenty of time: NetAdapt's 10%
    assert abs(step_goal(now, 10.0, budget, Pace(100.0, 0.5)) - 8.0) < 1e-9  # the table over-promises twice
    assert abs(step_goal(now, 10.0, budget, Pace(2.0, 1.0)) - (10.0 - (10.0 - 1.86) / 2)) < 1e-9  # two steps left
    last = step_goal(now, 10.0, budget, Pace(1.0, 1.0))
    assert abs(last - (2.0 * (1 - AIM_BELOW) - 0.1)) < 1e-9  # one step left: the budget itself


def test_a_goal_no_group_reaches_gets_the_cheapest_groups_together_and_every_group_by_one_share():
    orders = [GroupOrder(name, tuple(range(16)), 1) for name in "abcd"]
    singles = [o.move(8) for o in orders]  # half of each group
    estimates = [9.0, 9.5, 9.2, None]     # saves 1.0, 0.5, 0.8 ms; d could not be estimated
    scores = [-1.0, -0.1, -4.0, 0.0]      # a loses 1 point a ms, b 0.2, c 5
    joints = joint_moves(orders, singles, scores, estimates, 8.5, 10.0)
    cheapest, uniform = joints
    assert [m.root for m in cheapest.moves] == ["b", "a"]  # by cost, until 1.5 ms is saved
    # the singles save 4.6 ms per share removed (1.0 / 0.5 + 0.5 / 0.5 + 0.8 / 0.5): 1.5 ms is 33%, up to 35%
    assert [len(m.idxs) for m in uniform.moves] == [6] * 4 and "every group by 35%" in uniform.describe()
    assert joint_moves(orders, singles, scores, estimates, 9.1, 10.0) == []  # a alone reaches 9.1 ms
    far = joint_moves(orders, singles, scores, estimates, 1.0, 10.0)
    assert len(far[0].moves) == 3 and far[1].moves[0].kept == max(MIN_CHANNELS, round(16 * (1 - MAX_SHARE)))


def test_a_step_is_taken_by_a_candidate_that_reaches_the_goal_where_one_does():
    budget = SimpleNamespace(latency_ms=5.0, size_kb=None, peak_rss_mb=None)
    now = Measured(10.0, 9.9, 10.1, 100.0, None)
    small, large = Measured(9.8, 9.7, 9.9, 90.0, None), Measured(8.0, 7.9, 8.1, 60.0, None)
    scores = [-0.1, -3.0]  # 0.5 points a ms against 1.5
    assert reach_ms(8.0, 10.0) == 9.0
    assert pick(scores, [small, large], now, budget) == 0                 # by cost alone: the small move
    assert pick(scores, [small, large], now, budget, reach_ms(8.0, 10.0)) == 1  # the step's goal: the large one
    assert pick(scores, [small, "failed"], now, budget, reach_ms(8.0, 10.0)) == 0  # none reaches: by cost
    # of the candidates that reach the goal, the one that loses least, not the one cheapest per ms
    further = Measured(4.0, 3.9, 4.1, 30.0, None)
    assert pick([-0.1, -3.0, -4.0], [small, large, further], now, budget, reach_ms(8.0, 10.0)) == 1
