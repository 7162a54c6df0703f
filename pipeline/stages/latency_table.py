"""Per-layer latency lookup tables (NetAdapt, Yang et al. 2018): every convolution and linear layer shape the
budget search meets is timed alone on the target, in the budget's format and precision, and kept in a table per
target identity (the target's entry, the agent's platform and runtime, threads, format, precision) under
edgeship's cache, so a shape is timed once per target, whatever the run.

A candidate's latency is estimated as the whole model's measured latency plus the table's difference over the
layers the candidate's move changed: what the table cannot see (activations, additions, per-call overhead) is
the same on both sides of the difference. The search ranks its candidates by these estimates and times only the
best few whole, so the table orders moves and measurements decide.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.atomic import write_json_atomic
from edgeship.pipeline.core.infrastructure.keys import content_key

CACHE = Path(os.environ.get("EDGESHIP_CACHE", Path.home() / ".cache" / "edgeship")) / "latency-tables"


@dataclass(frozen=True)
class LayerShape:
    """One layer as the runtime sees it: its configuration, its input's spatial size, its precision."""
    kind: str                     # conv | linear
    in_channels: int
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] | str = (0, 0)  # or "same" / "valid"
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True
    height: int = 1
    width: int = 1
    int8: bool = True

    @property
    def key(self) -> str:
        return ",".join(f"{v[0]}x{v[1]}" if isinstance(v, tuple) else str(int(v) if isinstance(v, bool) else v)
                        for v in asdict(self).values())

    def module(self) -> nn.Module:
        if self.kind == "linear":
            return nn.Linear(self.in_channels, self.out_channels, bias=self.bias)
        return nn.Conv2d(self.in_channels, self.out_channels, self.kernel, self.stride, self.padding,
                         self.dilation, self.groups, bias=self.bias)

    def example(self) -> torch.Tensor:
        if self.kind == "linear":
            return torch.randn(1, self.in_channels)
        return torch.randn(1, self.in_channels, self.height, self.width)


def layer_shapes(model: nn.Module, example: torch.Tensor, float_layers: list[str] = (),
                 int8: bool = True) -> dict[str, LayerShape]:
    """Module name -> shape of every Conv2d and Linear layer `model` runs on `example` (`float_layers` as fp32)."""
    shapes: dict[str, LayerShape] = {}

    def hook(module, inputs, _output, name):
        x = inputs[0]
        quantized = int8 and name not in float_layers
        if isinstance(module, nn.Linear):
            shapes[name] = LayerShape("linear", module.in_features, module.out_features, bias=module.bias is not None,
                                      int8=quantized)
        else:
            shapes[name] = LayerShape("conv", module.in_channels, module.out_channels, tuple(module.kernel_size),
                                      tuple(module.stride), module.padding if isinstance(module.padding, str)
                                      else tuple(module.padding), tuple(module.dilation),
                                      module.groups, module.bias is not None, x.shape[-2], x.shape[-1], quantized)

    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: hook(mod, inp, out, name))
             for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    with torch.no_grad():
        model.eval()(example)
    model.train(was_training)
    for h in hooks:
        h.remove()
    return shapes


def target_identity(target: dict, platform: dict | None, runtime: str | None, threads: int, fmt: str) -> str:
    """The table's key: the target's entry (host, type, image), what the agent saw there, and how it runs."""
    seen = {k: v for k, v in (platform or {}).items() if k != "cpu_affinity"}
    return content_key("latency-table", target, seen, runtime, threads, fmt)


class LatencyTable:
    """Layer shape -> median latency in ms on one target identity, read from and written to the cache."""

    def __init__(self, identity: str, folder: Path = CACHE):
        self.path = Path(folder) / f"{identity}.json"
        self.ms: dict[str, float] = {}
        if self.path.is_file():
            try:
                self.ms = {k: float(v) for k, v in json.loads(self.path.read_text()).get("ms", {}).items()}
            except (ValueError, AttributeError):  # a damaged cache is rebuilt, not trusted
                self.ms = {}
        self.timed_now = 0  # shapes this process timed (the rest came from the cache)

    def fill(self, shapes, time_layers: Callable[[list[LayerShape]], list[float | None]]) -> list[str]:
        """Time the shapes the table lacks (one agent run), keep them; the shapes that could not be timed."""
        missing = list({s.key: s for s in shapes if s.key not in self.ms}.values())
        if not missing:
            return []
        failed = []
        for shape, ms in zip(missing, time_layers(missing)):
            if ms is None:
                failed.append(shape.key)
            else:
                self.ms[shape.key] = ms
        self.timed_now += len(missing) - len(failed)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, {"ms": self.ms})
        except OSError:  # a read-only cache: the table still serves this run
            pass
        return failed

    def total(self, shapes) -> float | None:
        """The sum over `shapes` (None when one is not in the table)."""
        try:
            return sum(self.ms[s.key] for s in shapes)
        except KeyError:
            return None

    def estimate(self, measured_ms: float, before: dict[str, LayerShape], after: dict[str, LayerShape]
                 ) -> float | None:
        """A candidate's latency: the model's measured latency plus the table's change over the changed layers."""
        changed = [name for name in before.keys() | after.keys() if before.get(name) != after.get(name)]
        old = self.total([before[n] for n in changed if n in before])
        new = self.total([after[n] for n in changed if n in after])
        return None if old is None or new is None else measured_ms + new - old
