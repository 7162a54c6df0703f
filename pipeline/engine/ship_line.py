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
