"""The stage graph of a run, defined once, and the typed identity of every artifact in it.

    teacher ─┬─► student-scratch                 (the baseline, distill.baseline)
             ├─► student-kd ─► pruned ─► FMT-fp32 ─► FMT-int8   (each registered format)
             └─► teacher-FMT-fp32                (the teacher's exports, measured for comparison, never shipped)

A stage's name is made from its identity (`StageId.name`) and is only ever a key or a label: nothing reads a role,
format or precision back out of a name (a plug-in format may well be called `onnx-ortopt`). Artifacts, result rows
and failures carry the identity as fields.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Role(StrEnum):
    TEACHER = "teacher"      # the trained (or given) teacher, torch or ONNX
    STUDENT = "student"      # a trained student: variant "kd" (distilled) or "scratch" (the baseline)
    PRUNED = "pruned"        # the student after structured pruning and its fine-tune
    EXPORT = "export"        # a torch model converted to a format, fp32
    QUANTIZED = "quantized"  # an export at int8


@dataclass(frozen=True)
class StageId:
    role: Role
    format: str = "torch"
    precision: str = "fp32"
    of_teacher: bool = False  # an export of the teacher's weights
    variant: str = ""         # a student's training: "kd" or "scratch"

    @property
    def name(self) -> str:
        """The stage's folder and report key."""
        if self.role is Role.STUDENT:
            return f"student-{self.variant}"
        if self.role in (Role.EXPORT, Role.QUANTIZED):
            return f"{'teacher-' if self.of_teacher else ''}{self.format}-{self.precision}"
        return self.role.value

    @property
    def is_teacher(self) -> bool:
        """The teacher or one of its exports: measured for comparison, never shipped."""
        return self.role is Role.TEACHER or self.of_teacher

    @property
    def converted(self) -> bool:
        return self.role in (Role.EXPORT, Role.QUANTIZED)

    def fp32(self) -> StageId:
        """The export a quantized file was made from."""
        return replace(self, role=Role.EXPORT, precision="fp32")

    def fields(self) -> dict:
        """What artifact.json and report rows store of it (format and precision are fields of their own there)."""
        return {"stage": self.name, "role": self.role.value, "of_teacher": self.of_teacher, "variant": self.variant}

    def to_dict(self) -> dict:
        return {"role": self.role.value, "format": self.format, "precision": self.precision,
                "of_teacher": self.of_teacher, "variant": self.variant}

    @classmethod
    def from_dict(cls, data: dict) -> StageId:
        return cls.of(**data)

    @classmethod
    def of(cls, role: str, format: str, precision: str, of_teacher: bool = False, variant: str = "") -> StageId:
        return cls(Role(role), format, precision, bool(of_teacher), variant or "")


TEACHER = StageId(Role.TEACHER)
STUDENT_KD = StageId(Role.STUDENT, variant="kd")
STUDENT_SCRATCH = StageId(Role.STUDENT, variant="scratch")
PRUNED = StageId(Role.PRUNED)


def export(fmt: str, of_teacher: bool = False) -> StageId:
    return StageId(Role.EXPORT, fmt, "fp32", of_teacher)


def quantized(fmt: str) -> StageId:
    return StageId(Role.QUANTIZED, fmt, "int8")


def stage_ids(formats: list[str]) -> list[StageId]:
    """Every stage a run with these formats can have, in flow order."""
    converted = [sid for fmt in formats for sid in (export(fmt), quantized(fmt))]
    teacher_exports = [export(fmt, of_teacher=True) for fmt in formats]
    return [TEACHER, STUDENT_SCRATCH, STUDENT_KD, PRUNED, *converted, *teacher_exports]


def stage_names(formats: list[str]) -> list[str]:
    """What --force accepts."""
    return [sid.name for sid in stage_ids(formats)]
