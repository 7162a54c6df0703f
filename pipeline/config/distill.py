"""The distill: section of a recipe: method, weights, layer pairs, scheme."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from edgeship.pipeline.config.section import Registered, Section
from edgeship.pipeline.core.contracts.plugins import METHODS, SCHEMES

# Keys of the shared section that older recipes used for one method's settings: key -> (method, option name).
LEGACY_KEYS = {"dkd_alpha": ("dkd", "alpha"), "dkd_beta": ("dkd", "beta"), "dkd_warmup": ("dkd", "warmup"),
               "cwd_temperature": ("cwd", "temperature")}


class LayerPair(Section):
    teacher: str  # module path in the teacher, e.g. layer2 or features.6
    student: str  # module path in the student


class DistillConfig(Section):
    # a registered distillation method; a task may start from its own (detection: cwd on the class logits and
    # FPN levels, alpha 0)
    method: Registered(METHODS) = "kd"
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
    # fitnets / at / sp / pkd: teacher and student layers, captured with hooks; empty: the pairs both models name
    # (a detector's FPN levels), if they do
    layers: list[LayerPair] = []
    # fitnets: stage-1 hint-only epochs before the KD epochs (unset: 1, the paper's two-stage training)
    hint_epochs: Annotated[int, Field(ge=0)] | None = None
    # Weak-teacher guard: once the student's validation accuracy reaches the teacher's, the teacher's weight (alpha
    # and beta) is multiplied by this after every such epoch (1 = off); the report says when it fired.
    weak_teacher_decay: float = Field(0.5, ge=0.0, le=1.0)
    # The method's own settings, checked against the model the method brings (docs/recipe.md lists each: dkd
    # alpha, beta, warmup; cwd temperature); empty: its defaults.
    options: dict[str, Any] = {}
    cache_teacher: bool = True         # reuse teacher outputs across epochs when augmentation is off
    # Adaptive KD (offline scheme, with distill.baseline): after each epoch the student's validation score is
    # compared with the scratch student's at the same epoch; measurably behind, it takes the next step of: alpha
    # to at most 0.5, temperature halved, DIST instead of KL, teacher off (docs/distillation.md). false: the
    # recipe's settings hold throughout.
    adapt: bool = True
    # Also train the same student without a teacher: the baseline the report compares to.
    baseline: bool = True
    # A teacher flagged not fit to ship (near chance, one class everywhere): skip = its students are not
    # distilled from it (the scratch student trains and the ship line starts from it); distill = distill anyway.
    unfit_teacher: Literal["skip", "distill"] = "skip"
    # offline: a trained, frozen teacher. online: deep mutual learning, the student and `peers` networks (copies of
    # the student, or of the teacher's architecture) train together from scratch, each from the others' outputs.
    # self: self-distillation, `self_mode` born_again (the scratch student teaches generation 1, each generation
    # the next, `generations`) or deep_to_shallow (classifiers after the student's shallow stages, `exits`, learn
    # from its own final output; no teacher). assistant: the teacher pruned to the geometric mean of the two
    # models' MACs and fine-tuned with KD (prune.finetune) teaches the student (TAKD; stages/assistant.py).
    scheme: Registered(SCHEMES) = "offline"  # a registered scheme: offline, assistant, online, self or a plug-in's
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

    @model_validator(mode="before")
    @classmethod
    def _legacy_method_keys(cls, data: Any) -> Any:
        """Recipes written before `options`: dkd_alpha, dkd_beta, dkd_warmup and cwd_temperature move into the
        options of the method they were for (and are dropped for another method, which never read them)."""
        if not isinstance(data, dict) or not any(key in data for key in LEGACY_KEYS):
            return data
        data, options = dict(data), dict(data.get("options") or {})
        for key, (method, name) in LEGACY_KEYS.items():
            if key in data:
                value = data.pop(key)
                if data.get("method") == method:
                    options.setdefault(name, value)
        return {**data, "options": options}

    @model_validator(mode="after")
    def _options_fit_the_method(self):
        settings = METHODS.get(self.method, "distill.method").Settings
        if settings is None and self.options:
            raise ValueError(f"options: method {self.method!r} takes no options (given: {', '.join(self.options)})")
        if settings is not None:
            try:
                settings.model_validate(self.options)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
                raise ValueError(f"options.{where}: {message} (method {self.method!r})") from None
        return self

    @property
    def born_again(self) -> bool:
        """Self-distillation across generations, the scratch student first (the stage's parent)."""
        return SCHEMES.get(self.scheme, "distill.scheme").taught_by_scratch(self)

    @property
    def kd_temperature(self) -> float:
        """The temperature the logit terms use: the recipe's, else the method's published default."""
        return self.temperature if self.temperature is not None else METHODS.get(self.method).default_temperature
