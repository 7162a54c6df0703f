"""`edgeship targets check`: can each target of a recipe run what the recipe will send it?"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from targets.registry import make_target

RUNTIME_OF_FORMAT = {"onnx": "onnxruntime", "openvino": "openvino", "tflite": "tflite", "torch": "torch"}


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
    missing = [f"{fmt} needs {RUNTIME_OF_FORMAT[fmt]}" for fmt in formats if not runtimes.get(RUNTIME_OF_FORMAT[fmt])]
    return {**row, "machine": platform.get("machine"), "cpu_features": platform.get("cpu_features") or [],
            "cpu_count": platform.get("cpu_count"), "python": platform.get("python"), "runtimes": runtimes,
            "free_disk_mb": probe.get("free_disk_mb"), "container_platform": probe.get("container_platform"),
            "usable": not missing, "problem": "; ".join(missing) or None}
