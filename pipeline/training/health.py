"""Is a trained model fit to ship? A model near chance, or whose evaluation accuracy collapses against its
training accuracy (BatchNorm statistics that never settled, a broken export of the graph), is flagged in the
report and never shipped."""
from __future__ import annotations

# Training accuracy is measured in train mode on augmented batches; evaluation below half of it is not overfitting
# but a model that does not work in eval mode (MobileNetV3 after a short run: 77% train, 10.0% eval).
COLLAPSE_RATIO = 0.5


def chance_level(num_classes: int) -> float:
    return 100.0 / max(1, num_classes)


def near_chance_limit(num_classes: int) -> float:
    """Accuracy at or below which a model has learned next to nothing: chance plus a tenth of the way to 100%."""
    chance = chance_level(num_classes)
    return chance + 0.1 * (100.0 - chance)


def problems(val_accuracy: float | None, train_accuracy: float | None, num_classes: int,
             metric: str = "accuracy") -> list[str]:
    """Why the model must not ship (empty: healthy). `metric` names the task's metric in the sentences (for mIoU,
    chance is no better: predicting one class everywhere scores about 100/classes too)."""
    found = []
    if val_accuracy is None or val_accuracy != val_accuracy:  # no validation split: nothing to judge
        return found
    limit = near_chance_limit(num_classes)
    if val_accuracy <= limit:
        found.append(f"validation {metric} {val_accuracy:.1f}% is near chance ({chance_level(num_classes):.1f}% "
                     f"for {num_classes} classes; at most {limit:.1f}% counts as not learned)")
    if train_accuracy is not None and train_accuracy > 2 * near_chance_limit(num_classes) \
            and val_accuracy < COLLAPSE_RATIO * train_accuracy:
        found.append(f"validation {metric} {val_accuracy:.1f}% is less than half its training {metric} "
                     f"{train_accuracy:.1f}%: the model does not work in eval mode")
    return found
