"""The target-type contract: a recipe `targets:` entry (a pydantic model with `type`), the adapter built from
it, and what the type can do. A target type is one file that registers a `TargetType` in
core/contracts/plugins.py TARGET_TYPES; the recipe, the bench and the gate ask these flags, never the type name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeship.pipeline.core.contracts.plugins import FORMATS, TARGET_TYPES


class TargetBase(BaseModel):
    """What every target entry has; a type adds its own fields and `type: Literal["its-name"]`."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Used as a folder name under bench/: letters, digits, '.', '_', '-' only.
    name: str = Field("local", pattern=r"^[A-Za-z0-9_.-]+$")
    # Thread counts to sweep; none = the bench section's `threads`. Each count is a column group of its own.
    threads: list[Annotated[int, Field(ge=1, le=256)]] | None = Field(None, min_length=1)
    timeout: float | None = Field(None, gt=0.0)  # seconds per agent run; none = the bench section's timeout
    # Formats to measure here (torch or registered formats); none = all where the type runs torch, else the
    # exported ones.
    formats: list[str] | None = Field(None, min_length=1)

    @field_validator("formats")
    @classmethod
    def _registered_formats(cls, value: list[str] | None) -> list[str] | None:
        known = ["torch", *FORMATS.names()]
        for fmt in value or []:
            if fmt not in known:
                raise ValueError(f"unknown format {fmt!r} (registered: {', '.join(known)})")
        return value

    def measures(self, fmt: str) -> bool:
        return fmt in self.formats if self.formats else (target_type(self.type).runs_torch or fmt != "torch")


@dataclass(frozen=True)
class TargetType:
    name: str                       # the recipe's `type:`
    config: type[TargetBase]        # the pydantic model of its entries
    make: Callable                  # make(cfg) -> an adapter with bench_many(models, request) and probe()
    runs_torch: bool                # can run .pt2 programs (this machine's torch): measured by default
    interleaved_timing: bool        # can time a baseline model beside the candidate (the gate's paired timing)
    native_latency: bool = True     # False for emulators: their latency is never compared


def target_type(name: str) -> TargetType:
    return TARGET_TYPES.get(name, "targets.type")


def register_target_type(kind: TargetType) -> TargetType:
    return TARGET_TYPES.register(kind)
