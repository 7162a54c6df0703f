"""`edgeship distill --search`: successive halving over distillation settings on the validation split, with a
time budget; writes search/trials.csv and search/search.json in the run folder (reused while its key holds) and
returns the distill: section of the pick, which the distill stage then trains fully."""
from __future__ import annotations

import csv
import io
import json

import numpy as np

from edgeship.pipeline.config.distill import DistillConfig
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.plugins import METHODS
from edgeship.pipeline.core.infrastructure.atomic import write_atomic, write_json_atomic
from edgeship.pipeline.core.infrastructure.keys import content_key
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.distillation.search import (
    SCRATCH,
    Candidate,
    SearchResult,
    candidates,
    successive_halving,
    trial_images,
)
from edgeship.pipeline.models.torch_artifact import example_input, load_teacher
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.scheme_run import new_student
from edgeship.pipeline.training.family_defaults import with_family_defaults
from edgeship.pipeline.training.loop import accuracy, train

DEFAULT_BUDGET_SECONDS = 1800


def trial_runner(ctx: Context, teacher_art: Artifact):
    """run_trial(candidate, epochs): a fresh student trained for `epochs` (a fraction of an epoch = that share of
    the training images, fixed by the seed) with the candidate's settings; returns its validation metric."""
    data, recipe = ctx.data, ctx.recipe
    task = ctx.task
    teacher = load_teacher(teacher_art)
    order = np.random.default_rng(recipe.seed).permutation(len(data.train))

    def run_trial(cand: Candidate, epochs: float) -> float:
        split, whole = trial_images(data.train, epochs, order, at_least=recipe.student.train.batch_size)
        model, _ = new_student(ctx, recipe.seed)
        cfg = with_family_defaults(recipe.student.train, model).model_copy(update={"epochs": whole})
        distiller = None
        if cand.method != SCRATCH:
            settings = recipe.distill.model_copy(update=cand.settings())
            distiller = Distiller(teacher, model, settings, example_input(data.preprocessing), task.loss,
                                  teacher_accuracy=teacher_art.metrics.get("val_accuracy"))
        try:
            train(model, split, None, cfg, recipe.seed, distiller, task=task, workers=recipe.data.workers)
        finally:
            if distiller is not None:
                distiller.close()
        return accuracy(model, data.val, task, workers=recipe.data.workers)

    return run_trial


def _trials_csv(result: SearchResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rung", "candidate", "epochs", "val", "seconds"])
    for t in result.trials:
        writer.writerow([t.rung, t.candidate, t.epochs, f"{t.val:.2f}", f"{t.seconds:.1f}"])
    return out.getvalue()


def _summary(found: dict) -> dict:
    return {"pick": found["pick"], "trials": len(found["trials"]), "seconds": found["seconds"],
            "timed_out": found["timed_out"], "beats_scratch": found["beats_scratch"]}


def search(ctx: Context, teacher_art: Artifact, budget_seconds: float | None, code: str) -> DistillConfig:
    """The recipe's distill: section with the search's pick; the search itself is reused from the run folder
    when nothing it depends on changed."""
    recipe = ctx.recipe
    folder = ctx.run.root / "search"
    key = content_key("search", recipe.student.model_dump(mode="json"), recipe.distill.model_dump(mode="json"),
                      ctx.data.key, teacher_art.key, budget_seconds, recipe.seed, code)
    saved = folder / "search.json"
    if saved.is_file():
        previous = json.loads(saved.read_text())
        if previous.get("key") == key:
            ctx.say(f"[bold]search[/bold] key {key}\n  reused: {previous['pick']}")
            ctx.search = _summary(previous)
            return recipe.distill.model_copy(update=previous["settings"])
    # layer pairs: the recipe's, or those the models name themselves (a detector's FPN levels)
    named = bool(getattr(load_teacher(teacher_art), "feature_layers", lambda: [])())
    grid = candidates(dict(METHODS.items()), recipe.task, bool(recipe.distill.layers) or named)
    ctx.say(f"[bold]search[/bold] key {key}: {len(grid)} candidates, successive halving (1/3 kept per rung), "
            f"budget {budget_seconds or 'none'} s")
    result = successive_halving(grid, trial_runner(ctx, teacher_art), recipe.student.train.epochs,
                                time_budget=budget_seconds, say=ctx.say)
    write_atomic(folder / "trials.csv", lambda tmp: tmp.write_text(_trials_csv(result)))
    write_json_atomic(saved, {"key": key, **result.to_dict()})
    ctx.search = _summary(result.to_dict())
    ctx.say(f"  search picked {result.pick.label()} in {result.seconds:.0f} s"
            + (" (out of time: best of the furthest rung)" if result.timed_out else "")
            + ("" if result.beats_scratch else "; it did not beat the scratch student in the first rung"))
    return recipe.distill.model_copy(update=result.pick.settings())
