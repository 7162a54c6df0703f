"""The budget search's checkpoint: a pruned model and the steps so far come back exactly as kept; the newest kept
step wins; nothing is resumed once cleared or where nothing was kept."""
import torch

from edgeship.pipeline.config.recipe import PruneConfig
from edgeship.pipeline.models.torch_artifact import build_from_spec
from edgeship.pipeline.stages.budget_latency import Measured
from edgeship.pipeline.stages.budget_resume import SearchCheckpoint
from edgeship.pipeline.stages.budget_steps import CONFIRMS, Step
from edgeship.pipeline.stages.layer_groups import LayerGroups
from edgeship.pipeline.stages.prune import pruning_setup

ARCH = {"arch": "simple_cnn", "args": {}, "num_classes": 10, "channels": 1, "size": 32}


def _step(n: int, move: str) -> Step:
    measured = Measured(1.0 - n / 10, 0.9 - n / 10, 1.1 - n / 10, 12.0, 80.0, {"cpu": "x"}, "onnxruntime 1")
    return Step(n, move, 1000 - n, 90.0 - n, measured, 3.0 * n, ({"move": move, "picked": True},), 0.5)


def test_a_pruned_model_and_its_steps_come_back_as_kept(tmp_path):
    torch.manual_seed(0)
    model = build_from_spec(ARCH).eval()
    example = torch.zeros(1, 1, 32, 32)
    groups = LayerGroups(model, example, pruning_setup(model, PruneConfig(), 10))
    groups.apply(groups.moves(0.5, {}, 100)[0])
    stage_out = tmp_path / ".tmp-pruned-abc-1"
    stage_out.mkdir()
    (stage_out / "train-budget-step1.csv").write_text("epoch,loss\n0,1.0\n")
    checkpoint = SearchCheckpoint(stage_out, "abc")
    assert checkpoint.load(ARCH, stage_out) is None
    steps = [_step(0, "start"), _step(1, "conv1 -8")]
    state = {"steps": [s.to_json() for s in steps], "uniform": [], "trained": {"val_accuracy": 88.0},
             "timing": {"format": "onnx", "int8": False, "float_layers": [], "at_start": {}}, "seconds": 12.0}
    checkpoint.keep(model, state, stage_out)
    steps.append(_step(2, f"{CONFIRMS}, onnx fp32 as shipped"))
    checkpoint.keep(model, {**state, "steps": [s.to_json() for s in steps]}, stage_out)
    assert len(list(checkpoint.folder.glob("weights-*.pt"))) == 1  # only the newest step's weights stay

    fresh = tmp_path / ".tmp-pruned-abc-2"  # the rerun's own temp folder
    fresh.mkdir()
    restored, kept = SearchCheckpoint(fresh, "abc").load(ARCH, fresh)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(restored(x), model(x))
    assert [Step.from_json(s) for s in kept["steps"]] == steps and Step.from_json(kept["steps"][-1]).confirms
    assert kept["trained"] == {"val_accuracy": 88.0} and (fresh / "train-budget-step1.csv").is_file()
    checkpoint.clear()
    assert SearchCheckpoint(fresh, "abc").load(ARCH, fresh) is None
    assert SearchCheckpoint(fresh, "other-key").load(ARCH, fresh) is None
