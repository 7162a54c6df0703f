"""The built-in distillation schemes: offline (a frozen teacher), assistant (a pruned teacher in between,
stages/assistant.py), online (deep mutual learning with peers trained alongside) and self (born_again: the scratch
student teaches generation 1, each generation the next; deep_to_shallow: classifiers on the student's shallow
stages learn from its final output)."""
from __future__ import annotations

from edgeship.pipeline.config.recipe import LayerPair
from edgeship.pipeline.core.contracts.plugins import SCHEMES
from edgeship.pipeline.core.contracts.schemes import Scheme
from edgeship.pipeline.distillation.deep_to_shallow import ShallowExits
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.distillation.exits import find_exits
from edgeship.pipeline.distillation.family_settings import family_settings
from edgeship.pipeline.distillation.online import MutualLearning
from edgeship.pipeline.stages import assistant
from edgeship.pipeline.stages.scheme_run import SchemeRun
from edgeship.pipeline.training.loop import seed_everything


def _offline(run: SchemeRun):
    model, spec = run.new_student()
    cfg, row = family_settings(run.cfg, model)
    distiller = Distiller(run.teacher(), model, cfg, run.example, run.task.loss,
                          teacher_accuracy=run.source.metrics.get("val_accuracy"), reference=run.reference())
    return model, spec, run.fit(model, distiller).with_scheme({"name": "offline",
                                                               **({"defaults": row.said()} if row else {})})


def _describe_offline(scheme: dict) -> str:
    return "offline (frozen teacher" + (f"; the student's defaults: {scheme['defaults']})" if scheme.get("defaults")
                                        else ")")


def _online(run: SchemeRun):
    """Deep mutual learning: `cfg.peers` networks (the student's or the teacher's architecture) learn with it."""
    cfg, recipe = run.cfg, run.ctx.recipe
    model, spec = run.new_student()
    peers = []
    for k in range(cfg.peers):
        seed_everything(recipe.seed + 1 + k)  # each peer its own initialization
        peers.append(run.build(recipe.student if cfg.peer_arch == "student" else recipe.teacher))
    summary = run.fit(model, MutualLearning(peers, cfg, run.task.loss))
    return model, spec, summary.with_scheme({"name": "online", "peers": cfg.peers, "peer_arch": cfg.peer_arch})


def _deep_to_shallow(run: SchemeRun):
    """Self-distillation within the student: a classifier after each shallow stage learns from the final output."""
    cfg = run.cfg
    model, spec = run.new_student()
    exits = find_exits(model, run.example, None if cfg.exits == "auto" else cfg.exits)
    summary = run.fit(model, ShallowExits(model, exits, run.ctx.data.num_classes, cfg, run.task.loss))
    return model, spec, summary.with_scheme({"name": "self", "mode": "deep_to_shallow",
                                             "exits": [e.name for e in exits.shallow]})


def _born_again(run: SchemeRun):
    """Generation g learns from generation g - 1 (the scratch student first); the last generation is the stage's
    model. Feature pairs name student layers on both sides."""
    cfg = run.cfg
    same_arch = cfg.model_copy(update={"layers": [LayerPair(teacher=p.student, student=p.student)
                                                  for p in cfg.layers]})
    teacher, per_generation = run.teacher(), []
    for generation in range(1, cfg.generations + 1):
        model, spec = run.new_student(run.ctx.recipe.seed + generation)
        # no weak-teacher guard: a born-again student is meant to overtake its teacher and keep learning from it
        distiller = Distiller(teacher, model, same_arch, run.example, run.task.loss)
        summary = run.fit(model, distiller, f"{run.stage} generation {generation}/{cfg.generations}",
                          log_name=f"train-gen{generation}.csv")
        per_generation.append({"generation": generation, "val_accuracy": summary.val_accuracy})
        teacher = model
    return model, spec, summary.with_scheme({"name": "self", "mode": "born_again", "generations": per_generation})


def _self(run: SchemeRun):
    return (_born_again if run.cfg.self_mode == "born_again" else _deep_to_shallow)(run)


def _own_outputs_only(recipe, task) -> None:
    d = recipe.distill
    if not d.born_again and d.method != "kd":
        raise ValueError(f"distill.scheme {d.scheme} trains on the network's own outputs (method kd), not "
                         f"{d.method!r}")


def _check_online(recipe, task) -> None:
    if recipe.distill.peer_arch == "teacher" and recipe.teacher.arch == "onnx":
        raise ValueError("distill.peer_arch teacher: an ONNX teacher's architecture cannot be trained; use student")
    _own_outputs_only(recipe, task)


def _check_self(recipe, task) -> None:
    d = recipe.distill
    if d.born_again and not d.baseline:
        raise ValueError("distill.scheme self (born_again) starts from the scratch student: set "
                         "distill.baseline: true")
    _own_outputs_only(recipe, task)
    if d.self_mode == "deep_to_shallow" and task.dense:
        raise ValueError(f"distill.self_mode deep_to_shallow puts classifiers on shallow stages: not for task "
                         f"{recipe.task!r}")


def _describe_online(scheme: dict) -> str:
    return (f"online (deep mutual learning with {scheme['peers']} peer(s) of the {scheme['peer_arch']}'s "
            "architecture, trained together from scratch)")


def _describe_self(scheme: dict) -> str:
    if scheme.get("mode") == "deep_to_shallow":
        return (f"self-distillation (deep-to-shallow: classifiers after {', '.join(scheme['exits'])} learned from the "
                "network's own final output during training, then were dropped)")
    gens = scheme["generations"]
    steps = ", ".join(f"{g['val_accuracy']:.2f}" for g in gens)
    return (f"self-distillation (born-again: the scratch student taught generation 1, each generation the next; "
            f"{len(gens)} generation(s), validation {steps})")


SCHEMES.register(Scheme("offline", _offline, _describe_offline, watches_scratch=True))
SCHEMES.register(Scheme("assistant", assistant.train_with_assistant, assistant.describe, check=assistant.check,
                        watches_scratch=True))
SCHEMES.register(Scheme("online", _online, _describe_online, check=_check_online,
                        learns_from_teacher=lambda cfg: False))
SCHEMES.register(Scheme("self", _self, _describe_self, check=_check_self,
                        taught_by_scratch=lambda cfg: cfg.self_mode == "born_again",
                        learns_from_teacher=lambda cfg: False))
