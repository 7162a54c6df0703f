"""The recipe's `targets:` entries, one pydantic model per adapter type, told apart by `type`."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from targets.arm_cpus import ARM_CPUS

ArmCpuName = Literal[tuple(ARM_CPUS)]  # type: ignore[valid-type]


class TargetBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Used as a folder name under bench/: letters, digits, '.', '_', '-' only.
    name: str = Field("local", pattern=r"^[A-Za-z0-9_.-]+$")
    # Thread counts to sweep; none = the bench section's `threads`. Each count is a column group of its own.
    threads: list[Annotated[int, Field(ge=1, le=256)]] | None = Field(None, min_length=1)
    timeout: float | None = Field(None, gt=0.0)  # seconds per agent run; none = the bench section's timeout
    # Formats to measure here; none = all on a local target, the exported ones (no torch) on a device.
    formats: list[Literal["torch", "onnx", "tflite", "openvino"]] | None = Field(None, min_length=1)

    def measures(self, fmt: str) -> bool:
        return fmt in self.formats if self.formats else (self.type == "local" or fmt != "torch")


class LocalTargetConfig(TargetBase):
    type: Literal["local"] = "local"
    python: str | None = None  # interpreter that runs the agent; default: the one running edgeship
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")  # taskset -c list, e.g. "1" or "0-1"


class SshTargetConfig(TargetBase):
    type: Literal["ssh"]
    host: str = Field(pattern=r"^[A-Za-z0-9_.:\[\]-]+$")  # a host name, address or ~/.ssh/config alias
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    identity_file: str | None = None
    ssh_config: str | None = None  # default: ~/.ssh/config, as ssh itself reads it
    known_hosts: str | None = None  # default: ~/.ssh/known_hosts
    trust_on_first_use: bool = False  # record an unknown host key instead of refusing it (never a changed one)
    python: str = "python3"
    work_dir: str = "/tmp"
    connect_timeout: int = Field(10, ge=1)
    emulated: bool = False  # declare a board that is itself an emulator, so its latency is never compared


class DockerTargetConfig(TargetBase):
    type: Literal["docker"]
    image: str = Field(pattern=r"^[A-Za-z0-9_./:@-]+$")
    platform: str | None = Field(None, pattern=r"^linux/(amd64|arm64)$")
    cpus: float | None = Field(None, gt=0.0)
    cpuset: str | None = Field(None, pattern=r"^[0-9]+([-,][0-9]+)*$")
    memory: str | None = Field(None, pattern=r"^[0-9]+[bkmg]?$")
    run_args: list[str] = []
    docker_host: str | None = None  # e.g. unix:///run/edgeship-docker.sock; default: docker's own
    python: str = "python3"
    cpu: ArmCpuName = "cortex-a72"  # the ARM core to emulate when an arm64 image runs on x86


class QemuArm64TargetConfig(TargetBase):
    type: Literal["qemu-arm64"]
    rootfs: str | None = None  # an arm64 userland with python and runtimes; none = build edgeship's (cached)
    cpu: ArmCpuName = "cortex-a72"
    cores: int = Field(4, ge=1, le=64)
    python: str = "/usr/bin/python3.11"
    # PYTHONPATH inside the userland; edgeship's has /opt/site (current runtimes) and /opt/site-tflite-runtime.
    python_path: str | None = None


TARGET_TYPES = {"local": LocalTargetConfig, "ssh": SshTargetConfig, "docker": DockerTargetConfig,
                "qemu-arm64": QemuArm64TargetConfig}


def _target_type(value) -> str | None:
    """`type` picks the model; an entry without one is local. None for an unknown type (pydantic names it)."""
    kind = value.get("type", "local") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in TARGET_TYPES else None


TargetConfig = Annotated[Union[tuple(Annotated[cls, Tag(kind)] for kind, cls in TARGET_TYPES.items())],
                         Discriminator(_target_type, custom_error_type="target_type",
                                       custom_error_message=f"type must be one of {', '.join(TARGET_TYPES)}")]
