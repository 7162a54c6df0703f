"""The base of every recipe section: unknown keys are errors, values are frozen."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def Registered(registry):  # noqa: N802 (a type, as Literal is)
    """A recipe value that names a plug-in of `registry`: checked against the names registered when it is read."""
    def check(name: str) -> str:
        if name not in registry.names():
            raise ValueError(f"unknown {registry.kind} {name!r} (registered: {', '.join(registry.names())})")
        return name
    return Annotated[str, AfterValidator(check)]
