"""`edgeship targets check`: can each target of a recipe run what the recipe will send it?"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from edgeship.pipeline.core.contracts.agent_result import ProbeResult
from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.targets.registry import make_target


@dataclass(frozen=True)
class TargetCheck:
    """One target's answer: what it is, which runtimes it has, and whether the recipe's formats can run there."""
    target: str
    type: str
    usable: bool
    problem: str | None = None
    emulated: bool = False
    emulated_cpu: str | None = None
    machine: str | None = None
    cpu_features: list[str] = field(default_factory=list)
    cpu_count: int | None = None
    python: str | None = None
    runtimes: dict = field(default_factory=dict)
    free_disk_mb: int | None = None
    container_platform: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check_targets(recipe) -> list[TargetCheck]:
    """One row per target (probed concurrently): reachability, platform, runtimes, free disk, verdict."""
    with ThreadPoolExecutor(max_workers=len(recipe.targets)) as pool:
        probes = list(pool.map(lambda cfg: ProbeResult.parse(make_target(cfg).probe()), recipe.targets))
    return [_row(cfg, probe, recipe.export.formats) for cfg, probe in zip(recipe.targets, probes)]


def _row(cfg, probe: ProbeResult, formats: list[str]) -> TargetCheck:
    seen = {"target": cfg.name, "type": cfg.type, "emulated": probe.emulated, "emulated_cpu": probe.emulated_cpu}
    if not probe.ok:
        return TargetCheck(**seen, usable=False, problem=probe.error or "no answer")
    needs = {fmt: format_named(fmt).runtime for fmt in formats}
    missing = [f"{fmt} needs {runtime}" for fmt, runtime in needs.items() if not probe.runtimes.get(runtime)]
    platform = probe.platform
    return TargetCheck(**seen, usable=not missing, problem="; ".join(missing) or None,
                       machine=platform.get("machine"), cpu_features=platform.get("cpu_features") or [],
                       cpu_count=platform.get("cpu_count"), python=platform.get("python"), runtimes=probe.runtimes,
                       free_disk_mb=probe.free_disk_mb, container_platform=probe.container_platform)
