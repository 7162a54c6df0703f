"""CPU presets: which int8 flavour each backend should produce for the CPU a model will run on.

From onnxruntime's quantize_static guidance: x86 with VNNI/AMX takes u8 activations and s8 weights at full
range; x86 without VNNI (AVX2) needs reduce_range (7-bit weights) to avoid saturating 16-bit accumulators;
ARM kernels (and XNNPACK) run symmetric s8 activations fastest. NNCF and PT2E produce symmetric s8 weights
in every preset; NNCF's "performance" preset is symmetric activations, "mixed" asymmetric.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuPreset:
    name: str
    ort_activation: str   # onnxruntime QuantType name
    ort_weight: str
    ort_reduce_range: bool
    nncf_preset: str      # performance | mixed


PRESETS = {
    "x86-vnni": CpuPreset("x86-vnni", "QUInt8", "QInt8", False, "performance"),
    "x86-avx2": CpuPreset("x86-avx2", "QUInt8", "QInt8", True, "performance"),
    "arm64": CpuPreset("arm64", "QInt8", "QInt8", False, "performance"),
}
