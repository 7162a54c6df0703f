"""Which trained student the ship line (pruning, export, int8) starts from: the better one on validation, unless
the recipe says which (ship.start_from), and never one that is not fit to ship when the other is."""
from __future__ import annotations

from dataclasses import dataclass

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.stage_graph import STUDENT_KD, STUDENT_SCRATCH
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


@dataclass
class ShipLine:
    start: Artifact
    distilled: bool   # whether the start is the distilled student (pruning then fine-tunes with the teacher)
    notice: str | None = None  # said in the report's first lines


def _val(artifact: Artifact) -> float:
    value = artifact.metrics.get("val_accuracy")
    return float("-inf") if value is None or value != value else float(value)


def _healthy(artifact: Artifact) -> bool:
    return not artifact.metrics.get("health")


def unfit_teacher(teacher: Artifact, distill, learns_from_teacher: bool) -> str | None:
    """Why the students must not be distilled from this teacher (None: they may): it is flagged not fit to ship
    and the scheme learns from its outputs, unless the recipe says to distill anyway."""
    why = teacher.metrics.get("health")
    if not why or not learns_from_teacher or distill.unfit_teacher == "distill":
        return None
    return (f"The teacher is not fit to ship ({'; '.join(why)}), so no student is distilled from it: the scratch "
            "student is trained and the ship line starts from it (fix the teacher first; distill.unfit_teacher: "
            "distill distills anyway).")


def choose_start(stages: dict[str, Artifact], start_from: str) -> ShipLine:
    kd, scratch = stages.get(STUDENT_KD.name), stages.get(STUDENT_SCRATCH.name)
    if kd is None:  # not distilled (an unfit teacher): the notice that says why is the flow's
        return ShipLine(scratch, False)
    if start_from == "scratch":
        if scratch is None:
            raise EdgeshipError("ship.start_from: scratch needs distill.baseline: true (no scratch student is trained)")
        return ShipLine(scratch, False, "The ship line starts from the scratch student (ship.start_from: scratch).")
    if start_from == "kd" or scratch is None:
        return ShipLine(kd, True)
    kd_val, scratch_val = _val(kd), _val(scratch)
    better = (_healthy(scratch) and not _healthy(kd)) or (_healthy(scratch) == _healthy(kd) and scratch_val > kd_val)
    if not better:
        return ShipLine(kd, True)
    return ShipLine(scratch, False, (
        f"The scratch student ({scratch_val:.2f}% validation) beats the distilled student ({kd_val:.2f}%): "
        "pruning and int8 start from the scratch student (ship.start_from: kd forces the distilled one)."))


def pruned_too_far(pruned: Artifact, start: Artifact, budget: float, metric: str) -> str | None:
    """Why the pruned student must not carry the ship line (None: it may): it fell below the student it was
    pruned from by more than ship.max_accuracy_drop on validation, or is not fit to ship while that one is."""
    before, after = _val(start), _val(pruned)
    why = pruned.metrics.get("health")
    if why and _healthy(start):
        cause = f"it is not fit to ship ({'; '.join(why)})"
    elif before - after > budget:
        cause = (f"its validation {metric} fell from {before:.2f} to {after:.2f}, more than ship.max_accuracy_drop "
                 f"({budget:g})")
    else:
        return None
    steps = pruned.metrics.get("steps") or []
    return (f"The pruned student is not chosen: {cause}; export and int8 start from the unpruned student "
            f"({len(steps)} pruning step(s) of {pruned.metrics.get('ratio', 0):.0%}; try more prune.finetune "
            "epochs, more prune.steps or a lower prune.ratio).")


def after_pruning(pruned: Artifact | None, start: Artifact, budget: float, metric: str,
                  judged: bool = True) -> tuple[Artifact, str | None]:
    """The student export and int8 start from: the pruned one unless pruned_too_far says why not (then that).
    Judged for tasks with masks or boxes (a detector pruned 20% with a 2-epoch fine-tune lost 9 points mAP and
    shipped): classification keeps its pruned student as before (the tiny test runs prune with a few-epoch
    fine-tune that loses more than the budget; moving them is a later session's)."""
    refused = pruned_too_far(pruned, start, budget, metric) if pruned is not None and judged else None
    return (start, refused) if pruned is None or refused else (pruned, None)
