"""A broken plug-in for the tests: a target type without its adapter factory."""
from typing import Literal

from edgeship.pipeline.core.contracts.targets import TargetBase, TargetType, register_target_type


class HalfConfig(TargetBase):
    type: Literal["half"]


register_target_type(TargetType(name="half", config=HalfConfig, make=None, runs_torch=False, interleaved_timing=False))
