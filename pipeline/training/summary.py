"""What one training run says about itself, typed: `fit` (pipeline/stages/fit.py) returns a TrainingSummary, a
scheme adds how it trained (`with_scheme`), and the artifact stores `to_metrics()` (the same keys report.json and
earlier run folders use)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class TrainingSummary:
    epochs: int
    warmup_epochs: int
    optimizer: str
    lr: float
    schedule: str                       # cosine | poly: the decay after warm-up
    val_accuracy: float                 # the task's metric on the validation split, after BatchNorm settles
    train_accuracy: float | None
    test_accuracy: float
    batchnorm: dict                     # re-estimated statistics: images, val before/after, which were kept
    health: list[str]                   # why the model is not fit to ship; empty when it is
    teacher_logits: str                 # cached | live | online | self | none
    seconds_per_epoch: float
    world_size: int                     # processes that trained it
    optimizer_note: str | None = None   # an lr meant for another optimizer, said before training
    stopped: str | None = None          # why training stopped early (constant output, NaN)
    test_segmentation: dict | None = None  # dense tasks: pixel accuracy, IoU per class
    beta: float | None = None           # the method's weight (beta: auto sets it)
    weak_teacher: dict | None = None    # the weak-teacher guard's decisions
    adapted: dict | None = None         # adaptive KD: the scratch curve it watched and what it changed
    scheme: dict | None = None          # how a distillation scheme trained it (its words in the report)
    loss: dict | None = None            # the supervised loss where the recipe chose one (kind, class weights)

    def with_scheme(self, scheme: dict) -> "TrainingSummary":
        return replace(self, scheme=scheme)

    def to_metrics(self) -> dict:
        data = asdict(self)
        for optional in ("test_segmentation", "scheme", "loss", "adapted"):
            if data[optional] is None:
                data.pop(optional)
        return data
