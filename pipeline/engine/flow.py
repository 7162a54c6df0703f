"""The engine: a stage's key from exactly what it declares (stage type, config, parent's key, data and other
inputs, tool versions, seed, the source of the code that makes it), built in a temp folder, renamed into place,
reused when its key exists."""
from __future__ import annotations

import inspect
import traceback
from pathlib import Path

from rich.console import Console

from edgeship.pipeline.config.loss import LossConfig
from edgeship.pipeline.config.recipe import Recipe, recipe_to_yaml
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.core.contracts.stage_graph import STUDENT_KD, StageId, stage_names
from edgeship.pipeline.core.infrastructure.atomic import write_atomic
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError, one_line
from edgeship.pipeline.core.infrastructure.keys import PROJECT_ROOT, code_key, content_key, tool_versions
from edgeship.pipeline.core.infrastructure.progress import stderr_console
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.inputs import StageInputs
from edgeship.pipeline.stages.preflight import check_models
from edgeship.pipeline.training import distributed

TORCH_PACKAGES = ("torch", "torchvision", "torch-pruning", "numpy")
# The code that makes each stage type: its source goes into the stage key (plus a plug-in's own file).
TRAINING_CODE = ("pipeline/stages", "pipeline/training", "pipeline/distillation", "pipeline/models", "pipeline/data",
                 "pipeline/tasks")
# artifact.json and the stage identity it records: written by core/contracts/artifact.py and stage_graph.py.
IDENTITY_CODE = ("pipeline/core/contracts/artifact.py", "pipeline/core/contracts/stage_graph.py")
STAGE_CODE = {"teacher": TRAINING_CODE, "distill": TRAINING_CODE, "prune": TRAINING_CODE,
              "export": ("pipeline/stages/convert.py", "pipeline/formats", "targets/agent"),
              "quantize": ("pipeline/stages/convert.py", "pipeline/formats", "targets/agent", "calibration")}


def plugin_files(plugin) -> tuple[str, ...]:
    """The source files of a plug-in's parts that live outside edgeship's own folders (a user's plug-in)."""
    parts = [plugin, *(getattr(plugin, part) for part in ("export", "quantize") if hasattr(plugin, part))]
    files = {inspect.getsourcefile(p) for p in parts if inspect.isfunction(p) or inspect.isclass(p)}
    return tuple(sorted(f for f in files if f and not f.startswith(str(PROJECT_ROOT / "pipeline"))))


class Flow:
    """Runs stages through the run folder, remembering which ones were forced so their descendants rerun."""

    def __init__(self, ctx: Context, force: set[str]):
        known = ["all", "bench", *stage_names(FORMATS.names())]
        unknown = sorted(set(force) - set(known))
        if unknown:
            raise EdgeshipError(f"--force {unknown[0]}: unknown stage (one of {', '.join(known)})")
        self.ctx = ctx
        self.force = set(force)
        self.forced_keys: set[str] = set()
        self.failures: dict[StageId, str] = {}  # conversion stage -> why it has no artifact
        self.notices: list[str] = []  # what the report says first (a stage that failed, the ship line's start)
        self.ship_from = STUDENT_KD.name
        self.search: float | None = None  # --search: its time budget in seconds (edgeship.pipeline.stages.search)

    def stage(self, sid: StageId, stage_type: str, cfg, inputs: StageInputs, packages, build, trains: bool = False,
              plugin_code=()) -> Artifact:
        """`inputs`: what the stage reads besides `cfg` and the run's data; `build(out, key, inputs)` gets exactly
        those. `trains`: a training stage, which every rank of a distributed run runs together. `plugin_code`:
        the files of plug-ins it runs (a format's, a method's), whose source goes into the key too."""
        name = sid.name
        if trains and self.ctx.recipe.loss != LossConfig():  # a chosen loss trains other weights
            cfg = {**cfg, "loss": self.ctx.recipe.loss.model_dump(mode="json")}
        versions = tool_versions(*packages)
        code = code_key(*STAGE_CODE[stage_type], *IDENTITY_CODE, *plugin_code)
        parent = inputs.parent
        key = content_key(stage_type, cfg, parent.key if parent else None, [self.ctx.data.key, *inputs.key_parts()],
                          versions, self.ctx.recipe.seed, code)
        forced = "all" in self.force or name in self.force or (parent is not None and parent.key in self.forced_keys)
        if forced:
            self.forced_keys.add(key)
        self.ctx.say(f"[bold]{name}[/bold] ({stage_type}) key {key}")
        run_stage = distributed.shared_stage if trains and distributed.world_size() > 1 else RunFolder.run_stage
        artifact = run_stage(self.ctx.run, sid, stage_type, key, parent.key if parent else None, versions,
                             lambda out: build(out, key, inputs), forced)
        if self.ctx.run.records[-1].status == "reused":
            self.ctx.say("  reused")
        return artifact

    def _tolerant(self, sid: StageId, *args, **kwargs) -> tuple[Artifact | None, str | None]:
        try:
            return self.stage(sid, *args, **kwargs), None
        except EdgeshipError:
            raise
        except Exception as err:  # converters and pruners raise anything; the message goes into the report
            message = one_line(err)
            trace = self.ctx.run.root / "failures" / f"{sid.name}.txt"  # the whole traceback, for whoever debugs
            trace.parent.mkdir(parents=True, exist_ok=True)
            text = "".join(traceback.format_exception(err))
            write_atomic(trace, lambda tmp: tmp.write_text(text))
            self.ctx.say(f"  [red]failed[/red]: {message} (traceback: {trace.relative_to(self.ctx.run.root)})")
            return None, message

    def conversion(self, sid: StageId, *args, **kwargs) -> Artifact | None:
        """A conversion that fails marks its rows failed; the other formats go on."""
        artifact, message = self._tolerant(sid, *args, **kwargs)
        if message:
            self.failures[sid] = message
        return artifact

    def optional_stage(self, sid: StageId, *args, **kwargs) -> Artifact | None:
        """A stage the flow can do without (pruning): if it fails, the report says why in its first lines and
        the flow goes on from the stage's parent."""
        artifact, message = self._tolerant(sid, *args, **kwargs)
        if message:
            self.notices.append(f"{sid.name} failed, so the ship line goes on without it: {message}")
        return artifact


def open_run(recipe: Recipe, run_dir: Path, force: set[str] | None, console: Console | None,
             publish: bool = True) -> Flow:
    run = RunFolder(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    if publish:
        text = recipe_to_yaml(recipe)
        write_atomic(run.root / "recipe.yaml", lambda tmp: tmp.write_text(text))
    console = console or stderr_console()
    data = load_dataset(recipe.data)
    flow = Flow(Context(recipe=recipe, run=run, data=data, console=console), force or set())
    check_models(recipe, data)
    console.print(f"data: {recipe.data.source}: {data.describe()}, key {data.key}")
    return flow


