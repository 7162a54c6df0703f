"""The recipe's `targets:` entries: one pydantic model per registered target type, told apart by `type`.

The union is built from the registry when a recipe is read, so a plug-in target type validates like the
built-in ones (and errors name the type: `targets.0.ssh.host`).
"""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import Discriminator, Tag

from edgeship.pipeline.core.contracts.plugins import TARGET_TYPES
from edgeship.pipeline.core.contracts.targets import TargetBase


def target_config_type():
    """The Annotated union of every registered target type's config, discriminated by `type`."""
    kinds = dict((name, kind.config) for name, kind in TARGET_TYPES.items())

    def pick(value) -> str | None:
        """`type` picks the model; an entry without one is local. None for an unknown type (pydantic names it)."""
        kind = value.get("type", "local") if isinstance(value, dict) else getattr(value, "type", None)
        return kind if isinstance(kind, str) and kind in kinds else None

    members = tuple(Annotated[config, Tag(kind)] for kind, config in kinds.items())
    return Annotated[Union[members], Discriminator(pick, custom_error_type="target_type",
                                                    custom_error_message=f"type must be one of {', '.join(kinds)}")]


def default_targets() -> list[TargetBase]:
    return [TARGET_TYPES.get("local").config()]
