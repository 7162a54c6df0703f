"""Numerical parity of a converted model against its source, on real samples: max |diff| over every output and
the task's agreement (Task.parity: argmax agreement per image, or per pixel for segmentation, by default)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgeship.pipeline.core.contracts.formats import runner_of
from edgeship.pipeline.core.contracts.tasks import Task, argmax_agreement
from edgeship.targets.agent_host import open_runner


class ParityError(RuntimeError):
    """A conversion whose predictions disagree with its source: a failed row, never a shipped file."""


def require_parity(parity: dict, fmt: str, minimum: float) -> None:
    agreement = parity["agreement"]
    if agreement < minimum:
        raise ParityError(f"{fmt} export disagrees with torch: {parity['agreement_of']} {agreement:.2f}% on "
                          f"{parity['samples']} samples is below export.min_agreement {minimum}% "
                          f"(max |diff| {parity['max_abs_diff']:.3g})")


def _as_list(outputs) -> list[np.ndarray]:
    return [o.numpy() for o in outputs] if isinstance(outputs, (tuple, list)) else [outputs.numpy()]


def outputs_one_by_one(runner, inputs: np.ndarray) -> list[np.ndarray]:
    """Every output of a runner on `inputs` (N, ...), one image at a time as a device runs it."""
    per_image = [runner.outputs(inputs[i:i + 1]) for i in range(len(inputs))]
    return [np.concatenate([outs[k] for outs in per_image]) for k in range(len(per_image[0]))]


def check_parity(reference: torch.nn.Module, fmt: str, path: Path, inputs: np.ndarray, task: Task | None = None
                 ) -> dict:
    """The file against torch, one image at a time as a device runs it, every output compared."""
    runner = open_runner(runner_of(fmt), str(path), threads=1)
    with torch.no_grad():
        expected = _as_list(reference.eval()(torch.from_numpy(inputs)))
    got = outputs_one_by_one(runner, inputs)
    agree = task.parity if task is not None and task.parity is not None else argmax_agreement
    return {
        "samples": int(len(inputs)),
        "max_abs_diff": max(float(np.abs(g - e).max()) for g, e in zip(got, expected)),
        "agreement": float(agree(expected, got)),
        "agreement_of": task.parity_name if task is not None else "argmax agreement",
        "runtime_settings": runner.settings,
    }
