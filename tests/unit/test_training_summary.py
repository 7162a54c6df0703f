"""fit's typed summary keeps the keys artifacts and reports have always stored."""
from __future__ import annotations

from edgeship.pipeline.training.summary import TrainingSummary


def summary(**changes) -> TrainingSummary:
    base = dict(epochs=2, warmup_epochs=0, optimizer="adam", lr=0.01, schedule="cosine", val_accuracy=91.0,
                train_accuracy=93.5,
                test_accuracy=90.2, batchnorm={"images": 0, "kept": "trained"}, health=[], teacher_logits="none",
                seconds_per_epoch=0.5, world_size=1)
    return TrainingSummary(**{**base, **changes})


def test_metrics_hold_the_stored_keys_and_only_the_details_a_run_has():
    metrics = summary().to_metrics()
    assert {"val_accuracy", "test_accuracy", "health", "batchnorm", "optimizer_note", "stopped", "beta",
            "weak_teacher", "world_size"} <= set(metrics)
    assert "scheme" not in metrics and "test_segmentation" not in metrics
    dense = summary(test_segmentation={"miou": 40.0}).with_scheme({"name": "offline"}).to_metrics()
    assert dense["scheme"] == {"name": "offline"} and dense["test_segmentation"] == {"miou": 40.0}
