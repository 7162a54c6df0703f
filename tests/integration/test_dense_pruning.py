"""Pruning a dense model: iterative steps by default, each fine-tuned with the recipe's own pixel-level
distillation (CWD here) after BatchNorm statistics are re-estimated, and a pruned student that lost more than
the ship budget does not carry the ship line (export and int8 start from the unpruned one, and the report says
why)."""
from __future__ import annotations

import pytest

from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.artifact import Artifact

pytestmark = pytest.mark.slow

RECIPE = {
    "name": "seg-prune", "task": "segmentation", "seed": 0,
    "data": {"source": "scenes:digits", "image_size": 16, "mean": [0.2], "std": [0.3],
             "scenes": {"count": 400, "max_items": 2}},
    "teacher": {"arch": "unet", "args": {"width": 8, "depth": 2},
                "train": {"epochs": 3, "batch_size": 32, "lr": 0.005, "optimizer": "adam"}},
    "student": {"arch": "unet", "args": {"width": 8, "depth": 2},
                "train": {"epochs": 3, "batch_size": 32, "lr": 0.005, "optimizer": "adam"}},
    "distill": {"method": "cwd", "alpha": 0.5, "baseline": False, "unfit_teacher": "distill"},
    "prune": {"ratio": 0.3, "finetune": {"epochs": 1, "lr": 0.002, "optimizer": "adam"}},
    "export": {"formats": ["onnx"], "parity_samples": 16, "teacher": False},
    "quantize": {"enabled": False},
    "bench": {"warmup": 1, "min_runs": 3, "min_seconds": 0.0, "max_seconds": 2.0, "eval_samples": 40},
    "ship": {"start_from": "kd", "max_accuracy_drop": 1.0},
}


def test_a_dense_model_is_pruned_in_steps_with_its_own_distillation_and_kept_out_when_it_lost_too_much(tmp_path):
    from edgeship.pipeline.engine.optimize import optimize

    report = optimize(parse_recipe(RECIPE), tmp_path / "run")
    stages = tmp_path / "run" / "stages"
    pruned = Artifact.read(next(stages.glob("pruned-*")))
    kd = Artifact.read(next(stages.glob("student-kd-*")))
    assert len(pruned.metrics["steps"]) == 3 and pruned.metrics["finetune_distillation"] == "cwd"
    onnx = Artifact.read(next(stages.glob("onnx-fp32-*")))
    drop = kd.metrics["val_accuracy"] - pruned.metrics["val_accuracy"]
    refused = [n for n in report.notices if n.startswith("The pruned student is not chosen")]
    if drop > 1.0 or (pruned.metrics["health"] and not kd.metrics["health"]):
        assert refused and onnx.parent == kd.key and report.reference_stage == "student-kd"
    else:
        assert not refused and onnx.parent == pruned.key and report.reference_stage == "pruned"
