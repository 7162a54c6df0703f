"""The distill: section of a recipe: method, weights, layer pairs, scheme."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edgeship.pipeline.config.section import Registered, Section
from edgeship.pipeline.core.contracts.plugins import METHODS


class LayerPair(Section):
    teacher: str  # module path in the teacher, e.g. layer2 or features.6
    student: str  # module path in the student


class DistillConfig(Section):
    method: Registered(METHODS) = "kd"  # a registered distillation method
    # Softmax temperature of the logit terms; unset = the method's published default (Method.default_temperature).
    temperature: Annotated[float, Field(gt=0.0)] | None = None
    # Weight of the KD logit loss; cross entropy gets 1 - alpha.
    alpha: float = Field(0.9, ge=0.0, le=1.0)
    # Weight of the method's own loss (hints, attention, relations, DKD): auto = set on the first batches so that
    # beta x method loss = balance x the logit terms ((1 - alpha) CE + alpha KD; feature and relation methods,
    # others keep their published weight); paper = the published default; or a number.
    beta: Annotated[float, Field(ge=0.0)] | Literal["auto", "paper"] = "auto"
    balance: float = Field(0.25, gt=0.0)  # beta auto: the method term's share of the logit terms it joins
    # constant: beta throughout; cosine: the method's term fades to nearly nothing by the last epoch
    beta_schedule: Literal["constant", "cosine"] = "constant"
    layers: list[LayerPair] = []      # fitnets / at / sp: teacher and student layers, captured with hooks
    # fitnets: stage-1 hint-only epochs before the KD epochs (unset: 1, the paper's two-stage training)
    hint_epochs: Annotated[int, Field(ge=0)] | None = None
    # Weak-teacher guard: once the student's validation accuracy reaches the teacher's, the teacher's weight (alpha
    # and beta) is multiplied by this after every such epoch (1 = off); the report says when it fired.
    weak_teacher_decay: float = Field(0.5, ge=0.0, le=1.0)
    dkd_alpha: float = Field(1.0, ge=0.0)  # dkd: weight of the target-class term (TCKD)
    dkd_beta: float = Field(8.0, ge=0.0)  # dkd: weight of the non-target-class term (NCKD)
    dkd_warmup: int = Field(5, ge=0)   # epochs over which the DKD loss ramps up
    cwd_temperature: float = Field(4.0, gt=0.0)  # cwd: softmax temperature over each channel's locations
    cache_teacher: bool = True         # reuse teacher outputs across epochs when augmentation is off
    # Also train the same student without a teacher: the baseline the report compares to.
    baseline: bool = True
    # offline: a trained, frozen teacher. online: deep mutual learning, the student and `peers` networks (copies of
    # the student, or of the teacher's architecture) train together from scratch, each from the others' outputs.
    # self: self-distillation, `self_mode` born_again (the scratch student teaches generation 1, each generation
    # the next, `generations`) or deep_to_shallow (classifiers after the student's shallow stages, `exits`, learn
    # from its own final output; no teacher).
    scheme: Literal["offline", "online", "self"] = "offline"
    peers: int = Field(1, ge=1, le=4)  # online: networks trained beside the student (DML)
    peer_arch: Literal["student", "teacher"] = "student"  # online: the peers' architecture
    # online: the peers' KL weight rises from 0 to 1 over this fraction of the training steps (the sigmoid ramp-up
    # of ONE / mean teacher); 0 = DML's constant 1. Without it, peers that start from different random guesses
    # pull each other towards them: MobileNetV2, 3 epochs, seed 1: 66.4% (ramp 0.3: 72.2, 0.5: 77.6; scratch 81.4).
    mimicry_rampup: float = Field(0.5, ge=0.0, le=1.0)
    self_mode: Literal["born_again", "deep_to_shallow"] = "born_again"  # self: which self-distillation
    generations: int = Field(1, ge=1, le=5)  # born_again: students in a row, each taught by the last
    exits: list[str] | Literal["auto"] = "auto"  # deep_to_shallow: student layers ending its stages; auto: found
    exit_alpha: float = Field(0.3, ge=0.0, le=1.0)  # deep_to_shallow: the exits' KD weight (BYOT's 0.3)

    @property
    def born_again(self) -> bool:
        """Self-distillation across generations, the scratch student first (the stage's parent)."""
        return self.scheme == "self" and self.self_mode == "born_again"

    @property
    def kd_temperature(self) -> float:
        """The temperature the logit terms use: the recipe's, else the method's published default."""
        return self.temperature if self.temperature is not None else METHODS.get(self.method).default_temperature
