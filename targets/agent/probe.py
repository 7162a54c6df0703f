"""What the device is: platform, CPU features, runtimes, free disk, and the agent's own peak memory."""
from __future__ import annotations

import os
import platform

import numpy as np

from .runners import _tflite_interpreter

CPU_FEATURES = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                "amx_int8", "amx_bf16", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2")


def _cpuinfo() -> list[tuple[str, str]]:
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
    except OSError:
        return []
    return [(key.strip(), value.strip()) for key, _, value in (line.partition(":") for line in text.splitlines())]


def cpu_features() -> list[str]:
    flags: set[str] = set()
    for key, value in _cpuinfo():
        if key in ("flags", "Features"):
            flags.update(value.split())
    return [f for f in CPU_FEATURES if f in flags]


def cpu_model() -> str | None:
    """x86's model name; an ARM board's Model line (a Raspberry Pi's), or its implementer and part numbers."""
    info = dict(reversed(_cpuinfo()))  # the first occurrence of each key
    if info.get("model name"):
        return info["model name"]
    if info.get("Model"):
        return info["Model"]
    part = " ".join(f"{k} {info[k]}" for k in ("CPU implementer", "CPU part") if info.get(k))
    return part or platform.processor() or None


def runtime_versions() -> dict:
    """Which runtimes import here, with their versions (None when missing)."""
    versions = {}
    for name, module in (("onnxruntime", "onnxruntime"), ("openvino", "openvino"), ("torch", "torch")):
        try:
            versions[name] = __import__(module).__version__
        except Exception:  # a broken install is as unusable as a missing one
            versions[name] = None
    try:
        _, runtime, version = _tflite_interpreter()
        versions["tflite"] = f"{runtime} {version}"
    except Exception:
        versions["tflite"] = None
    return versions


def platform_info() -> dict:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"machine": platform.machine(), "system": platform.system(), "python": platform.python_version(),
            "cpu_model": cpu_model(), "cpu_features": cpu_features(), "cpu_count": os.cpu_count(),
            "cpu_affinity": affinity}


def probe(work_dir: str) -> dict:
    """What `edgeship targets check` shows: the device's platform, runtimes and free disk."""
    stat = os.statvfs(work_dir)
    return {"status": "ok", "platform": platform_info(), "runtimes": runtime_versions(),
            "free_disk_mb": stat.f_bavail * stat.f_frsize // 2**20, "numpy": np.__version__}


def peak_rss_mb() -> float | None:
    """The agent process's peak resident memory (runtime, model, buffers). Linux: VmHWM, which starts afresh at
    exec (ru_maxrss would keep the forking parent's peak); elsewhere ru_maxrss."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024.0
