"""Per-layer latency tables: which layer shapes a model runs, a table that times only what it lacks and keeps it
by target identity, and a candidate's estimate from the layers its move changed."""
import torch
from torch import nn

from edgeship.pipeline.config.recipe import PruneConfig
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.stages.latency_table import LatencyTable, LayerShape, layer_shapes, target_identity
from edgeship.pipeline.stages.layer_groups import LayerGroups
from edgeship.pipeline.stages.prune import pruning_setup


def test_every_convolution_and_linear_layer_has_its_shape_at_the_size_it_runs():
    model = build_model("mobilenet_v2", 10, 1, 32, {}).eval()
    shapes = layer_shapes(model, torch.zeros(1, 1, 32, 32), float_layers=["classifier.1"])
    layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert sorted(shapes) == sorted(layers)
    first = shapes["features.0.0"]
    stride = model.features[0][0].stride
    assert (first.in_channels, first.height, first.width, first.stride) == (1, 32, 32, stride)
    depthwise = shapes["features.1.conv.0.0"]
    assert depthwise.groups == depthwise.in_channels == depthwise.out_channels
    assert depthwise.height == 32 // stride[0]
    assert shapes["classifier.1"].kind == "linear" and not shapes["classifier.1"].int8 and first.int8
    for shape in (first, depthwise, shapes["classifier.1"]):  # each shape makes a layer that runs alone
        assert shape.module()(shape.example()).shape[1] == shape.out_channels


def test_a_table_times_only_the_shapes_it_lacks_and_keeps_them_for_the_next_run(tmp_path):
    asked: list[list[str]] = []

    def time_layers(shapes):  # the cost model of a table under test: proportional to the layer's work
        asked.append([s.key for s in shapes])
        return [None if s.out_channels == 13 else s.in_channels * s.out_channels * 1e-3 for s in shapes]

    small, large, odd = LayerShape("conv", 8, 8), LayerShape("conv", 64, 64), LayerShape("conv", 8, 13)
    identity = target_identity({"name": "local", "type": "local"}, {"cpu_model": "x"}, "onnxruntime 1", 1, "onnx")
    table = LatencyTable(identity, tmp_path)
    assert table.fill([small, large, small, odd], time_layers) == [odd.key]  # what could not be timed
    assert table.fill([small, large], time_layers) == [] and len(asked) == 1  # nothing new: no agent run
    again = LatencyTable(identity, tmp_path)
    assert again.ms == {small.key: 0.064, large.key: 4.096} and again.timed_now == 0
    assert LatencyTable(target_identity({"name": "local", "type": "local"}, {"cpu_model": "y"}, "onnxruntime 1",
                                        1, "onnx"), tmp_path).ms == {}  # another CPU, another table
    (tmp_path / f"{identity}.json").write_text("{not json")
    assert LatencyTable(identity, tmp_path).ms == {}  # a damaged table is rebuilt, not trusted


def test_a_candidate_is_estimated_from_the_layers_its_move_changed(tmp_path):
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1, 32, {}).eval()
    example = torch.zeros(1, 1, 32, 32)
    groups = LayerGroups(model, example, pruning_setup(model, PruneConfig(), 10))
    move = groups.moves(0.5, {}, 1)[0]
    before, after = layer_shapes(model, example), layer_shapes(groups.candidate(move), example)
    changed = {n for n in before if before[n] != after[n]}
    assert move.root in changed and 2 <= len(changed) < len(before)  # the group's layer and the one it feeds
    table = LatencyTable("t", tmp_path)
    table.fill(list(before.values()) + list(after.values()),
               lambda shapes: [s.in_channels * s.out_channels / s.groups * 1e-3 for s in shapes])
    estimate = table.estimate(1.0, before, after)
    saved = sum(table.ms[before[n].key] - table.ms[after[n].key] for n in changed)
    assert 0 < saved and abs(estimate - (1.0 - saved)) < 1e-9
    assert LatencyTable("empty", tmp_path).estimate(1.0, before, after) is None  # unknown shapes: no estimate
