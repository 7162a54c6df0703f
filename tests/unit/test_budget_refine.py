"""A budget step that saves far more than it aimed at is made smaller: the same groups, fewer channels each, sized
by the secant through the whole timings."""
from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_refine import overshoots, refine, scaled
from edgeship.pipeline.stages.layer_groups import GroupOrder, Joint, parts

ORDERS = {root: GroupOrder(root, tuple(range(64))) for root in ("a", "b")}


def _timed(ms: float) -> Measured:
    return Measured(ms, ms - 0.05, ms + 0.05, 100.0, None)


def _evaluate(latency_of, asked: list):
    def evaluate(move):
        removed = sum(len(p.idxs) for p in parts(move))
        asked.append(removed)
        return -removed / 100, _timed(latency_of(removed))
    return evaluate


def _joint(count: int) -> Joint:
    return Joint(tuple(order.move(count) for order in ORDERS.values()), "every group by 75%")


def test_a_step_that_overshoots_is_made_as_small_as_its_goal_by_the_secant():
    linear = lambda removed: 10.0 - 0.05 * removed  # noqa: E731
    asked = []
    tried, taken = refine(_joint(48), _timed(linear(96)), _timed(10.0), 8.0, lambda: ORDERS,
                          _evaluate(linear, asked))
    assert asked == [40]  # 2 ms of the 4.8 the move saved: 20 channels of each group's 48
    assert taken == 0 and [len(p.idxs) for p in parts(tried[0].move)] == [20, 20]
    assert tried[0].move.label == "every group by 75%, 42% of it"
    assert tried[0].move.moves[0].idxs == tuple(range(20))  # still the least important first


def test_a_curved_latency_takes_a_second_secant_step():
    curved = lambda removed: 10.0 - 8.0 * (removed / 96) ** 2  # noqa: E731  saves little until much is gone
    asked = []
    tried, taken = refine(_joint(48), _timed(curved(96)), _timed(10.0), 7.0, lambda: ORDERS,
                          _evaluate(curved, asked))
    assert asked == [36, 52]  # the linear guess saves too little; the secant between it and the move does not
    assert taken == 1
    landed = tried[taken].measured
    assert 10.0 - landed.latency_ms >= 0.75 * 3.0 and not overshoots(landed, 10.0, 7.0)


def test_a_step_near_its_goal_or_one_that_cannot_be_smaller_is_kept():
    linear = lambda removed: 10.0 - 0.05 * removed  # noqa: E731
    asked = []
    assert refine(_joint(24), _timed(linear(48)), _timed(10.0), 8.0, lambda: ORDERS,
                  _evaluate(linear, asked)) == ([], None)  # 7.6 ms for 8 aimed: within TOO_FAR
    assert asked == []
    single = ORDERS["a"].move(1)
    assert scaled(single, 0.3, ORDERS) == ORDERS["a"].move(1)  # at least one channel
    tried, taken = refine(single, _timed(5.0), _timed(10.0), 9.9, lambda: ORDERS, _evaluate(linear, asked))
    assert (tried, taken) == ([], None)  # one channel is as small as a move gets


def test_a_smaller_move_that_does_not_take_the_step_is_not_taken():
    steep = lambda removed: 10.0 if removed < 90 else 4.0  # noqa: E731  nothing saved until most is gone
    tried, taken = refine(_joint(48), _timed(4.0), _timed(10.0), 8.0, lambda: ORDERS, _evaluate(steep, []))
    assert taken is None and len(tried) == 2
