"""ARM cores an emulated board can model: QEMU_CPU name, and the /proc/cpuinfo a real board of that kind shows.

qemu-user passes the host's x86 /proc/cpuinfo through to arm64 programs, and onnxruntime and ai-edge-litert
segfault on import when they read it; every emulated run bind-mounts the fake cpuinfo below over /proc/cpuinfo.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ArmCpu:
    board: str
    part: str  # "CPU part" of an ARM Ltd core (implementer 0x41)
    features: str


ARM_CPUS = {
    "cortex-a53": ArmCpu("Raspberry Pi 3", "0xd03", "fp asimd evtstrm crc32 cpuid"),
    "cortex-a72": ArmCpu("Raspberry Pi 4", "0xd08", "fp asimd evtstrm crc32 cpuid"),
    "cortex-a76": ArmCpu("Raspberry Pi 5", "0xd0b", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
                                                    "asimdhp cpuid asimdrdm lrcpc dcpop asimddp"),
    "max": ArmCpu("any Armv9 core", "0xd4f", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                             "asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve "
                                             "asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp sve2 i8mm bf16"),
}


def fake_cpuinfo(cpu: str, cores: int) -> str:
    spec = ARM_CPUS[cpu]
    block = ("processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
             "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {part}\nCPU revision\t: 3\n\n")
    return "".join(block.format(n=n, features=spec.features, part=spec.part) for n in range(cores))


ArmCpuName = Literal[tuple(ARM_CPUS)]  # type: ignore[valid-type]
