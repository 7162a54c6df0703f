"""The Scheme contract: how the distilled student is trained (`distill.scheme`): from a frozen teacher (offline),
together with peers (online), from itself (self), or a plug-in's way.

A scheme is one file that registers a `Scheme` in core/contracts/plugins.py SCHEMES. Its `train` gets a
SchemeRun (edgeship.pipeline.stages.scheme_run: the teacher artifact, the distill config, a fresh student, the
training loop) and returns (model, spec, summary): the TrainingSummary of `run.fit`, `.with_scheme({...})` added,
whose dict `describe` turns into the report's words, so reports of a scheme read the same wherever they are
opened.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgeship.pipeline.core.contracts.plugins import SCHEMES


@dataclass(frozen=True)
class Scheme:
    name: str
    train: Callable                  # train(run: SchemeRun) -> (model, spec, TrainingSummary with its scheme)
    describe: Callable[[dict], str]  # the report's words, from the stage's metrics["scheme"]
    # check(recipe, task) -> None: raises ValueError naming the distill field a recipe gets wrong for this scheme
    check: Callable = lambda recipe, task: None
    # whether the distilled stage's teacher is the scratch student (born-again) rather than the recipe's teacher
    taught_by_scratch: Callable = lambda distill_config: False
    # whether the student learns from the recipe's teacher's outputs (an unfit teacher then stops it); online and
    # self schemes use the teacher's stage only as an anchor
    learns_from_teacher: Callable = lambda distill_config: True
    # whether its student is watched against the scratch student's curve (adaptive KD, distill.adapt): the stage
    # then gets the scratch stage (SchemeRun.scratch, run.reference()) and its key includes it
    watches_scratch: bool = False


def scheme_named(name: str, field: str = "distill.scheme") -> Scheme:
    return SCHEMES.get(name, field)
