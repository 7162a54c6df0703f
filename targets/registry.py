"""Target adapters by the recipe's `type`: whatever target types are registered."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.targets import target_type
from edgeship.targets.base import Target


def make_target(cfg) -> Target:
    """An adapter for one `targets:` entry."""
    return target_type(cfg.type).make(cfg)
