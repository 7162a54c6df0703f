"""Numerical parity of a converted model against its source, on real samples (max |diff|, top-1 agreement:
per image, or per pixel for segmentation)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgeship.pipeline.core.contracts.formats import runner_of
from edgeship.targets.agent import open_runner


class ParityError(RuntimeError):
    """A conversion whose predictions disagree with its source: a failed row, never a shipped file."""


def require_parity(parity: dict, fmt: str, minimum: float) -> None:
    agreement = parity["top1_agreement"]
    if agreement < minimum:
        raise ParityError(f"{fmt} export disagrees with torch: argmax agreement {agreement:.2f}% on "
                          f"{parity['samples']} samples is below export.min_agreement {minimum}% "
                          f"(max |diff| {parity['max_abs_diff']:.3g})")


def check_parity(reference: torch.nn.Module, fmt: str, path: Path, inputs: np.ndarray) -> dict:
    runner = open_runner(runner_of(fmt), str(path), threads=1)
    with torch.no_grad():
        expected = reference.eval()(torch.from_numpy(inputs)).numpy()
    got = np.concatenate([runner(inputs[i:i + 1]) for i in range(len(inputs))])
    return {
        "samples": int(len(inputs)),
        "max_abs_diff": float(np.abs(got - expected).max()),
        # argmax over classes: per image, or per pixel for dense outputs (the pixel agreement)
        "top1_agreement": float((got.argmax(1) == expected.argmax(1)).mean() * 100.0),
        "runtime_settings": runner.settings,
    }
