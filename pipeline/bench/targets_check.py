"""`edgeship targets check`: can each target of a recipe run what the recipe will send it?"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.targets.registry import make_target


def check_targets(recipe) -> list[dict]:
    """One row per target (probed concurrently): reachability, platform, runtimes, free disk, verdict."""
    with ThreadPoolExecutor(max_workers=len(recipe.targets)) as pool:
        probes = list(pool.map(lambda cfg: make_target(cfg).probe(), recipe.targets))
    return [_row(cfg, probe, recipe.export.formats) for cfg, probe in zip(recipe.targets, probes)]


def _row(cfg, probe: dict, formats: list[str]) -> dict:
    row = {"target": cfg.name, "type": cfg.type, "emulated": bool(probe.get("emulated")),
           "emulated_cpu": probe.get("emulated_cpu")}
    if probe.get("status") != "ok":
        return {**row, "usable": False, "problem": probe.get("error") or "no answer"}
    platform = probe["platform"]
    runtimes = probe.get("runtimes") or {}
    needs = {fmt: format_named(fmt).runtime for fmt in formats}
    missing = [f"{fmt} needs {runtime}" for fmt, runtime in needs.items() if not runtimes.get(runtime)]
    return {**row, "machine": platform.get("machine"), "cpu_features": platform.get("cpu_features") or [],
            "cpu_count": platform.get("cpu_count"), "python": platform.get("python"), "runtimes": runtimes,
            "free_disk_mb": probe.get("free_disk_mb"), "container_platform": probe.get("container_platform"),
            "usable": not missing, "problem": "; ".join(missing) or None}
