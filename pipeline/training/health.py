"""Is a trained model fit to ship? A model near chance, or whose evaluation accuracy collapses against its
training accuracy (BatchNorm statistics that never settled, a broken export of the graph), is flagged in the
report and never shipped."""
from __future__ import annotations

import numpy as np

# Training accuracy is measured in train mode on augmented batches; evaluation below half of it is not overfitting
# but a model that does not work in eval mode (MobileNetV3 after a short run: 77% train, 10.0% eval).
COLLAPSE_RATIO = 0.5


def chance_level(num_classes: int) -> float:
    return 100.0 / max(1, num_classes)


def near_chance_limit(num_classes: int, chance: float | None = None) -> float:
    """Accuracy at or below which a model has learned next to nothing: chance plus a tenth of the way to 100%."""
    chance = chance_level(num_classes) if chance is None else chance
    return chance + 0.1 * (100.0 - chance)


def problems(val_accuracy: float | None, train_accuracy: float | None, num_classes: int,
             metric: str = "accuracy", chance: float | None = None) -> list[str]:
    """Why the model must not ship (empty: healthy). `metric` names the task's metric in the sentences (for mIoU,
    chance is no better: predicting one class everywhere scores about 100/classes too); `chance`: the task's own
    chance level where it is not 100/classes (Task.chance)."""
    found = []
    if val_accuracy is None or val_accuracy != val_accuracy:  # no validation split: nothing to judge
        return found
    chance = chance_level(num_classes) if chance is None else chance
    limit = near_chance_limit(num_classes, chance)
    if val_accuracy <= limit and chance > 0:
        found.append(f"validation {metric} {val_accuracy:.1f}% is near chance ({chance:.1f}% "
                     f"for {num_classes} classes; at most {limit:.1f}% counts as not learned)")
    elif val_accuracy <= limit:  # a metric a guess scores nothing on (detection's mAP)
        found.append(f"validation {metric} {val_accuracy:.1f}% is next to nothing (at most {limit:.1f}% counts "
                     "as not learned): train longer, on more images, or at another learning rate")
    if train_accuracy is not None and train_accuracy > 2 * limit \
            and val_accuracy < COLLAPSE_RATIO * train_accuracy:
        found.append(f"validation {metric} {val_accuracy:.1f}% is less than half its training {metric} "
                     f"{train_accuracy:.1f}%: the model does not work in eval mode (BatchNorm statistics) or "
                     f"learned its training images by heart (more images or fewer epochs)")
    return found


STALL_EPOCHS = 2        # epochs in a row at the constant-output loss before training stops
STALL_TOLERANCE = 0.01  # relative distance from it that still counts as "at" it


def constant_output_loss(labels) -> float | None:
    """The cross entropy of the best constant prediction: the entropy of the training labels' class shares
    (ln K for K balanced classes). None where labels are not one class per image."""
    labels = np.asarray(labels) if labels is not None else None
    if labels is None or labels.ndim != 1 or not len(labels):
        return None
    shares = np.bincount(labels.astype(np.int64)) / len(labels)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum())


def stalled(history: list[dict], constant_loss: float | None, optimizer: str, lr: float) -> str | None:
    """Why training must stop now (None: go on): a loss that is not a number, or a supervised loss that has sat at
    the constant-output value for STALL_EPOCHS epochs (the network answers the same for every image)."""
    row = history[-1]
    levers = (f"the learning rate ({lr:g} with {optimizer}) is the likely cause; also check the optimizer (Adam "
              "for networks without normalization layers, SGD with them) and that no BatchNorm layer is frozen")
    if row["loss"] != row["loss"] or abs(row["loss"]) == float("inf"):
        return f"the training loss became {row['loss']} in epoch {row['epoch']}: {levers}"
    if constant_loss is None or len(history) < STALL_EPOCHS:
        return None
    recent = history[-STALL_EPOCHS:]
    if all(r.get("ce") and abs(r["ce"] - constant_loss) <= STALL_TOLERANCE * constant_loss for r in recent):
        return (f"the loss sat at {recent[-1]['ce']:.4f}, a constant output's ({constant_loss:.4f}: the same "
                f"answer for every image), in epochs {recent[0]['epoch']}-{recent[-1]['epoch']}, so training "
                f"stopped: {levers}")
    return None


ONE_CLASS_SHARE = 95.0  # % of validation pixels predicted as one class from which a dense model "sees" nothing else


def one_class(details: dict, class_names: list[str]) -> str | None:
    """A dense model that predicts (nearly) one class everywhere, missing more than half of the other classes'
    pixels: which class, on what share of the pixels against the share it truly covers, and the levers that move
    it. None when the predictions are spread (or the truth is that one class)."""
    predicted, truth = details.get("predicted_share"), details.get("true_share")
    if not predicted:
        return None
    top = int(np.argmax(predicted))
    if predicted[top] < ONE_CLASS_SHARE or truth[top] >= ONE_CLASS_SHARE \
            or predicted[top] - truth[top] < 0.5 * (100.0 - truth[top]):
        return None
    name = class_names[top] if top < len(class_names) else f"class {top}"
    return (f"it predicts {name!r} on {predicted[top]:.1f}% of the validation pixels (truly {truth[top]:.1f}%): "
            f"try loss.kind weighted-ce or dice-ce, more epochs or another learning rate")
