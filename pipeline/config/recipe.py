"""The recipe: one YAML file that describes a whole optimize-and-ship run.

Every section is a pydantic model with `extra="forbid"`, so a misspelt key is an error that names the
field instead of a silently ignored setting.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from edgeship.pipeline.config.budget import BudgetConfig, check_budget, parse_latency
from edgeship.pipeline.config.data import DataConfig
from edgeship.pipeline.config.distill import DistillConfig, LayerPair  # noqa: F401 (recipe sections live here)
from edgeship.pipeline.config.loss import LossConfig
from edgeship.pipeline.config.quantize import CalibrationConfig, QuantizeConfig  # noqa: F401 (a recipe section)
from edgeship.pipeline.config.section import Registered, Section
from edgeship.pipeline.config.targets import default_targets, target_config_type
from edgeship.pipeline.core.contracts.plugins import (
    DATA_SOURCES,
    FORMATS,
    METHODS,
    SCHEMES,
    TARGET_TYPES,
    TASKS,
    load_plugins,
)
from edgeship.pipeline.core.contracts.targets import TargetBase
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


class TrainConfig(Section):
    epochs: int = Field(10, ge=0, le=10_000)  # passes over the training split
    batch_size: int = Field(64, ge=1)  # images per optimizer step (the global batch under --nproc)
    # auto: SGD (momentum 0.9, Nesterov) for networks with normalization layers, Adam for networks without (SqueezeNet,
    # VGG: plain SGD at BatchNorm-network rates stalls them at chance). lr unset: 0.05 for SGD, 0.001 for Adam
    # (a fifth of that when pruning fine-tunes).
    lr: float | None = Field(None, gt=0.0)
    # auto: see lr above; an explicit lr keeps the optimizer it was meant for
    optimizer: Literal["auto", "sgd", "adam"] = "auto"
    weight_decay: float = Field(5e-4, ge=0.0)  # L2 penalty on the weights
    # Augmentation: random shifts below 64 px; RandomResizedCrop + flip (+ TrivialAugment) from 64 px up.
    augment: bool = False
    hflip: bool = True            # crops only: mirror images (off for text, digits, anything with a handedness)
    trivial_augment: bool = False  # crops only: add TrivialAugmentWide
    # Linear learning-rate warm-up before the decay; None: 1 epoch for torchvision/timm models (deep,
    # BatchNorm-heavy families diverge early without it) and for dense tasks, none for the small built-in ones.
    warmup_epochs: float | None = Field(None, ge=0.0)
    # The decay after warm-up: cosine, or poly ((1 - t)^0.9 per step, the segmentation field's schedule);
    # auto: poly for dense tasks (segmentation), cosine otherwise.
    schedule: Literal["auto", "cosine", "poly"] = "auto"
    # auto: the GPU when torch sees one (CUDA), else the CPU. Export, int8 and bench always run on the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # on CUDA: bf16 autocast where supported, else fp16 with a gradient scaler
    # After training, re-estimate BatchNorm statistics on this many training images (0: off); the model keeps
    # whichever statistics score better on validation.
    recalibrate_bn: int = Field(2000, ge=0)
    # Under --nproc N, BatchNorm statistics span all ranks, so N processes train what one process trains; false
    # skips the two collectives per BatchNorm layer per step (faster on slow links, per-rank statistics).
    sync_batchnorm: bool = True


class ModelConfig(Section):
    # torchvision name (resnet18, mobilenet_v3_small, ...), timm:NAME, cifar_resnet20, simple_cnn,
    # python:module:function, or (teacher only) onnx: the checkpoint is an ONNX file run by onnxruntime
    arch: str
    args: dict[str, Any] = {}  # keyword arguments of the architecture, e.g. {width: 16, depth: 2}
    # Weights-only state dict from a local file (never downloaded). A head for another class count is replaced and
    # trained: the teacher fine-tunes for train.epochs; a student starts from it.
    checkpoint: str | None = None
    checkpoint_prefix: str | None = None  # strip this from every key (e.g. "model." of a Lightning checkpoint)
    # Segmentation: a classification checkpoint of the backbone (torchvision mobilenet_v3_large / resnet50
    # layout, e.g. ImageNet weights from a local file) loaded into the model's backbone before training.
    backbone_checkpoint: str | None = None
    train: TrainConfig = TrainConfig()


class PruneConfig(Section):
    enabled: bool = True  # structured channel pruning of the student, then a fine-tune
    ratio: float = Field(0.5, gt=0.0, lt=1.0)  # share of channels removed from each prunable layer
    # Torch-Pruning's criteria: L1 / L2 weight magnitude, BatchNorm scale, first-order Taylor (needs gradients)
    importance: Literal["l1", "l2", "bn_scale", "taylor"] = "l1"
    global_pruning: bool = False    # rank channels across layers instead of the same ratio in every layer
    # iterative pruning: reach `ratio` in N steps, fine-tuning after each; auto: 1, or 3 for dense tasks (a UNet
    # pruned 20% in one step fell back to "everything is background", 24.6 -> 7.6% mIoU)
    steps: Annotated[int, Field(ge=1, le=20)] | Literal["auto"] = "auto"
    ignore: list[str] = []          # module names never pruned (the classifier always is)
    # Channels a layer keeps are rounded down to a multiple of this where at least this many remain (Torch-Pruning's
    # round_to; 1: the ratio exactly). CPU kernels work in blocks of channels: a conv kept at 33 of 64 channels
    # ran as slowly as at 64 in onnxruntime int8 (AVX-512 VNNI EPYC), at 32 it took 30% less; MobileNetV2 pruned
    # 25% unrounded ran slower than unpruned.
    round_to: int = Field(8, ge=1, le=64)
    finetune: TrainConfig = TrainConfig(epochs=5)  # per step; lr unset: a fifth of training's default


class ExportConfig(Section):
    # registered formats to export to (onnx, tflite, openvino or a plug-in)
    formats: list[Registered(FORMATS)] = Field(default_factory=lambda: FORMATS.builtin_names(), min_length=1)
    opset: int = Field(17, ge=13, le=21)  # ONNX opset
    parity_samples: int = Field(256, ge=1)  # test images each conversion is checked on against its source
    # An fp32 export whose argmax (per image, or per pixel for segmentation) agrees with torch on fewer than this
    # percent of the parity samples is a failed row, not a shipped file.
    min_agreement: float = Field(99.0, ge=0.0, le=100.0)
    # Also export the teacher (fp32, each format), so its speed-up is measured against the student in one runtime.
    teacher: bool = True



class BenchConfig(Section):
    warmup: int = Field(10, ge=0)  # untimed inferences first
    min_runs: int = Field(100, ge=1)  # timed inferences at least (batch 1) ...
    min_seconds: float = Field(1.0, ge=0.0)  # ... and at least this long
    max_seconds: float = Field(30.0, gt=0.0)  # never longer than this per model
    threads: int = Field(1, ge=1)  # runtime threads (a target's own `threads` list overrides it)
    timeout: float = Field(300.0, gt=0.0)  # seconds one agent run may take on a target
    # Device accuracy on this many test images (stratified, fixed seed); None: the whole test split.
    eval_samples: int | None = Field(None, ge=10)
    # int8 against fp32 and pruned against unpruned are timed interleaved in one agent, at least this many runs
    # each (edgeship.pipeline.bench.paired); 0: decisions on single p50s, said so in the report.
    paired_min_runs: int = Field(200, ge=0)
    # Per-layer profile of every row from the runtime's own profiler, over this many runs (0: none).
    profile_runs: int = Field(20, ge=0)
    # Batch sizes to time (batch 1 is always the latency); larger ones add p50 per batch and images/s. A size a
    # model's input cannot take is a note in its row, not a failure.
    batch_sizes: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=lambda: [1], min_length=1)
    throughput: bool = False  # images/s with parallel requests (OpenVINO streams)


class ShipConfig(Section):
    # Points of the task's metric (top-1, mIoU) an artifact may lose against the fp32 student and still ship.
    max_accuracy_drop: float = Field(1.0, ge=0.0, le=100.0)
    # The student that pruning and int8 start from: the better one on validation, or always one of them.
    start_from: Literal["best", "kd", "scratch"] = "best"
    # Speeds whose paired 95% interval lies within this fraction of each other are "no measurable difference":
    # the more accurate file ships.
    equal_within: float = Field(0.05, ge=0.0, le=1.0)


class Recipe(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # the run folder is runs/<name>
    # Plug-ins to load first: module names or .py files that register formats, targets, methods or tasks.
    plugins: list[str] = []
    task: Registered(TASKS) = "classification"  # a registered task: classification, segmentation or a plug-in
    seed: int = 0  # seeds training and everything random
    data: DataConfig = DataConfig()
    teacher: ModelConfig
    student: ModelConfig
    distill: DistillConfig = DistillConfig()
    loss: LossConfig = LossConfig()  # the task's supervised term (dense tasks: class weights, OHEM, Dice, focal)
    prune: PruneConfig = PruneConfig()
    export: ExportConfig = ExportConfig()
    quantize: QuantizeConfig = QuantizeConfig()
    bench: BenchConfig = BenchConfig()
    # where the agent runs: local, ssh, docker, qemu-arm64 or a plug-in type (below)
    targets: list[TargetBase] = Field(default_factory=default_targets, min_length=1)
    ship: ShipConfig = ShipConfig()
    # what the shipped model must meet on one native target; a budget replaces prune.ratio by a search
    budget: BudgetConfig = BudgetConfig()

    @model_validator(mode="before")
    @classmethod
    def _task_distill_defaults(cls, data: Any) -> Any:
        """distill: fields the recipe leaves out start from the task's own defaults (Task.distill_defaults)."""
        if not isinstance(data, dict) or not isinstance(data.get("task"), str) or data["task"] not in TASKS.names():
            return data
        defaults = dict(TASKS.get(data["task"], "task").distill_defaults)
        distill = data.get("distill")
        if not defaults or (distill is not None and not isinstance(distill, dict)):
            return data
        return {**data, "distill": {**defaults, **(distill or {})}}

    @model_validator(mode="after")
    def _task_fits(self):
        task = TASKS.get(self.task, "task")
        if task.targets != self.data.targets:
            kinds = ", ".join(s.usage for _, s in DATA_SOURCES.items() if s.targets == task.targets) or "none yet"
            raise ValueError(f"data.source {self.data.source!r} gives {self.data.targets}, task {self.task!r} "
                             f"learns from {task.targets} (sources: {kinds})")
        if task.make_loss is None and self.loss.kind not in ("auto", "ce"):
            raise ValueError(f"loss.kind {self.loss.kind!r} is for dense tasks; task {self.task!r} trains with its "
                             "own loss (auto or ce)")
        method = METHODS.get(self.distill.method, "distill.method")
        SCHEMES.get(self.distill.scheme, "distill.scheme").check(self, task)
        layout = task.outputs_like or task.name  # a plug-in task with classification's outputs takes its methods
        if layout not in _tasks_of(method):
            fitting = [name for name, m in METHODS.items() if layout in _tasks_of(m)]
            raise ValueError(f"distill.method {self.distill.method!r} is for {', '.join(_tasks_of(method))}; task "
                             f"{self.task!r} takes {', '.join(fitting)}")
        check_budget(self)
        return self

    @field_validator("targets")
    @classmethod
    def _unique_target_names(cls, targets):
        names = [t.name for t in targets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"target names must be unique; repeated: {', '.join(repeated)}")
        return targets


def _tasks_of(method) -> tuple[str, ...]:
    return getattr(method, "tasks", ("classification",))


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(recipe)"
    if not field.isprintable():  # a key with a newline or control character: show it escaped, on one line
        field = field.encode("unicode_escape").decode("ascii")
    message = " ".join(first["msg"].split()).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"field '{field}': {message}{suffix}"


_MODELS: dict[tuple[str, ...], type[Recipe]] = {}


def recipe_model() -> type[Recipe]:
    """Recipe with `targets` typed by the target types registered now (plug-ins included)."""
    kinds = tuple(name for name, _ in TARGET_TYPES.items())
    if kinds not in _MODELS:
        _MODELS[kinds] = create_model("Recipe", __base__=Recipe, targets=(
            list[target_config_type()], Field(default_factory=default_targets, min_length=1)))
    return _MODELS[kinds]


def parse_recipe(raw: Any, source: str = "recipe") -> Recipe:
    if not isinstance(raw, dict):
        raise EdgeshipError(f"{source}: a recipe must be a mapping of sections, got {type(raw).__name__}")
    plugins = raw.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise EdgeshipError(f"{source}: field 'plugins': a list of module names or .py files")
    load_plugins(plugins)  # before validation: plug-ins add formats, target types, methods and tasks
    try:
        return recipe_model().model_validate(raw)
    except ValidationError as err:
        raise EdgeshipError(f"{source}: {_first_error(err)}") from None


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise EdgeshipError(f"recipe file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise EdgeshipError(f"{path}: not a text file (byte {err.start} is not UTF-8)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())  # one line, whatever YAML said
        raise EdgeshipError(f"{path}:{where} malformed YAML ({problem})") from None
    return parse_recipe(raw, str(path))


def with_budget(recipe: Recipe, latency: str | None, target: str | None) -> Recipe:
    """The recipe with `edgeship optimize --latency-budget 8ms [--target NAME]` in its budget: section."""
    if latency is None and target is None:
        return recipe
    if latency is None and recipe.budget.latency_ms is None:
        raise EdgeshipError("--target names the latency budget's target: give --latency-budget too")
    try:
        latency_ms = parse_latency(latency) if latency is not None else recipe.budget.latency_ms
    except ValueError as err:
        raise EdgeshipError(str(err)) from None
    budget = {**recipe.budget.model_dump(mode="json"), "latency_ms": latency_ms,
              **({"target": target} if target is not None else {})}
    return parse_recipe({**recipe.model_dump(mode="json"), "budget": budget}, "--latency-budget")


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
