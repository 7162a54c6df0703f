"""The latency-budget search's parts: a candidate is exactly the model that applying its move makes, on every
family's dependency groups; a latency's interval; how ship judges a row against a budget; --latency-budget."""
import pytest
import torch

from edgeship.pipeline.config.budget import BudgetConfig, parse_latency
from edgeship.pipeline.config.recipe import PruneConfig
from edgeship.pipeline.core.contracts.results import ResultRow
from edgeship.pipeline.core.contracts.speed import latency_interval
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.reporting.ship import Budget, choose
from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_timing import pick, shortfall
from edgeship.pipeline.stages.layer_groups import Joint, LayerGroups
from edgeship.pipeline.stages.prune import pruning_setup


@pytest.mark.parametrize("arch", ["simple_cnn", "mobilenet_v3_small", "shufflenet_v2_x0_5", "convnext_tiny"])
def test_a_candidate_is_the_model_its_move_makes(arch):
    torch.manual_seed(0)
    model = build_model(arch, 10, 1, 32, {}).eval()
    example = torch.zeros(1, 1, 32, 32)
    groups = LayerGroups(model, example, pruning_setup(model, PruneConfig(), 10))
    moves = groups.moves(0.25, {}, 100)
    assert moves and all(0 < m.kept < m.channels for m in moves)
    move = moves[len(moves) // 2]
    twin = groups.candidate(move)
    x = torch.randn(3, 1, 32, 32)
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        groups.apply(move)
        after = model(x)
        scale = after.abs().max()  # untrained families give outputs near 1e-10: compare relatively
        assert torch.allclose(twin(x), after, rtol=1e-4, atol=1e-5 * scale)  # the copy and the model alike
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in twin.parameters()) < params
    assert groups.moves(0.25, {}, 100)  # the graph still serves the next step


@pytest.mark.parametrize("arch", ["simple_cnn", "mobilenet_v3_small", "shufflenet_v2_x0_5", "densenet121"])
def test_a_joint_candidate_is_the_model_its_moves_make_together(arch):
    """Several groups in one step (a concat's consumer reached by two of them included): the copy made from the
    untouched graph is the model that pruning the groups one after another through the graph makes."""
    torch.manual_seed(0)
    model = build_model(arch, 10, 1, 32, {}).eval()
    example = torch.zeros(1, 1, 32, 32)
    groups = LayerGroups(model, example, pruning_setup(model, PruneConfig(), 10))
    moves = groups.moves(0.5, {}, 100)
    joint = Joint(tuple(moves if len(moves) < 4 else moves[::2]))
    assert len(joint.moves) >= 2 and " + " in joint.describe()
    twin = groups.candidate(joint)
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        groups.apply(joint)
        after = model(x)
        scale = after.abs().max()
        assert torch.allclose(twin(x), after, rtol=1e-4, atol=1e-5 * scale)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in twin.parameters())


def test_latency_interval_brackets_the_median_of_one_series():
    timings = [1.0 + 0.01 * (i % 7) for i in range(200)]
    value, low, high = latency_interval(timings, "p50")
    assert low <= value <= high and high - low < 0.05
    assert latency_interval(timings[:10], "p50") is None  # too few for an interval


def test_ship_judges_a_row_by_the_upper_end_of_its_interval_and_names_the_fastest():
    steady = [1.0] * 100
    row = ResultRow(model="m", stage="onnx-int8", format="onnx", precision="int8", target="local", status="ok",
                    accuracy=90.0, latency_ms={"p50": 1.0}, timings_ms=steady, size_bytes=4096)
    assert Budget(("local",), "p50", 1.5, None, None).why_not(row) is None
    assert Budget(("local",), "p50", 0.9, None, None).why_not(row) == "latency 0.9 ms p50"
    assert Budget(("local",), "p50", None, 2.0, None).why_not(row) == "size 2 KB"
    said = Budget(("local",), "p50", 0.9, None, None).missed([row])
    assert "no file meets latency 0.9 ms p50 on local; fastest: 1.000 ms [1.000, 1.000] p50 at 90.00%" in said


def test_ship_takes_the_most_accurate_file_within_the_budget_at_any_thread_count_it_allows():
    def row(stage, precision, target, accuracy, ms):
        return ResultRow(model="m", stage=stage, format="onnx" if stage != "student" else "torch",
                         precision=precision, target=target, status="ok", accuracy=accuracy,
                         latency_ms={"p50": ms}, timings_ms=[ms] * 100, size_bytes=4096)

    rows = [row("student", "fp32", "local@1t", 80.0, 5.0), row("student", "fp32", "local@2t", 80.0, 3.0),
            row("onnx-int8", "int8", "local@1t", 79.5, 1.2), row("onnx-int8", "int8", "local@2t", 79.5, 0.8),
            row("onnx-fp32", "fp32", "local@1t", 78.0, 0.9), row("onnx-fp32", "fp32", "local@2t", 78.0, 0.7)]
    both = choose(rows, "student", ["onnx"], 2.0, budget=Budget(("local@1t", "local@2t"), "p50", 1.0, None, None))
    assert both["onnx"].stage == "onnx-int8" and "on local@2t" in both["onnx"].reason  # meets at two threads only
    one = choose(rows, "student", ["onnx"], 2.0, budget=Budget(("local@1t",), "p50", 1.0, None, None))
    assert one["onnx"].stage == "onnx-fp32" and "on local@1t" in one["onnx"].reason  # the budget named one thread
    none = choose(rows, "student", ["onnx"], 2.0, budget=Budget(("local@1t", "local@2t"), "p50", 0.5, None, None))
    assert none["onnx"].stage is None and "fastest: 0.700 ms" in none["onnx"].reason
    assert "(onnx-fp32 on local@2t" in none["onnx"].reason


def test_formats_compete_by_how_far_each_is_from_the_budget():
    fast_large = Measured(0.010, 0.009, 0.011, size_kb=16.0, peak_rss_mb=50.0)
    slow_small = Measured(0.020, 0.019, 0.021, size_kb=6.0, peak_rss_mb=50.0)
    latency_only = BudgetConfig(latency_ms=0.005)
    assert shortfall(fast_large, latency_only) < shortfall(slow_small, latency_only)
    size_too = BudgetConfig(latency_ms=0.05, size_kb=8.0)  # both fast enough: only the small file meets it all
    assert shortfall(slow_small, size_too) == 1.0 < shortfall(fast_large, size_too) == 2.0


def test_a_step_saves_what_the_binding_constraint_counts():
    now = Measured(0.100, 0.099, 0.101, size_kb=56.0, peak_rss_mb=60.0)
    smaller_but_slower = Measured(0.110, 0.109, 0.111, size_kb=40.0, peak_rss_mb=60.0)
    faster_but_larger = Measured(0.080, 0.079, 0.081, size_kb=55.0, peak_rss_mb=60.0)
    found, scores = [smaller_but_slower, faster_but_larger], [-1.0, -1.0]
    # a size budget out of reach: kilobytes decide, however the files time
    assert pick(scores, found, now, BudgetConfig(size_kb=10.0)) == 0
    # a latency budget out of reach: milliseconds decide
    assert pick(scores, found, now, BudgetConfig(latency_ms=0.05)) == 1
    # both over: the one furthest over its limit (latency 2x, size 1.12x)
    assert pick(scores, found, now, BudgetConfig(latency_ms=0.05, size_kb=50.0)) == 1
    # nothing that saves the binding resource: no move
    assert pick(scores, [smaller_but_slower], now, BudgetConfig(latency_ms=0.05)) is None


@pytest.mark.parametrize("text, ms", [("8ms", 8.0), ("8 ms", 8.0), ("0.5", 0.5), ("12.5MS", 12.5)])
def test_latency_budgets_read_as_milliseconds(text, ms):
    assert parse_latency(text) == ms


@pytest.mark.parametrize("text", ["fast", "-3ms", "0", "8s", ""])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="--latency-budget"):
        parse_latency(text)
