"""The report's validation examples: a few validation images with their ground truth and what the teacher and
the shipped students predict, side by side: masks (segmentation) or boxes (detection)."""
from __future__ import annotations

import numpy as np

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import runner_of
from edgeship.pipeline.formats.parity import outputs_one_by_one
from edgeship.targets.agent import IGNORE_INDEX
from edgeship.targets.agent_host import open_runner

EXAMPLES = 4


SHOWN_SCORE = 0.3  # detections drawn: the confident ones


def predicted_outputs(artifact: Artifact, inputs: np.ndarray) -> list[np.ndarray]:
    """Every output of one artifact on `inputs` (N, ...), in its own runtime (torch for torch artifacts)."""
    if artifact.format == "torch":
        import torch

        from edgeship.pipeline.models.torch_artifact import load_teacher

        with torch.no_grad():
            outputs = load_teacher(artifact)(torch.from_numpy(inputs))
        return [o.numpy() for o in (outputs if isinstance(outputs, (tuple, list)) else [outputs])]
    return outputs_one_by_one(open_runner(runner_of(artifact.format), str(artifact.path), threads=1), inputs)


def predicted_masks(artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
    """argmax per pixel of one artifact."""
    return predicted_outputs(artifact, inputs)[0].argmax(1)


def predicted_boxes(artifact: Artifact, inputs: np.ndarray) -> list[np.ndarray]:
    """Per image, the confident detections (x1, y1, x2, y2, score, class) of one artifact, decoded by the
    device agent's code."""
    from edgeship.targets.agent.detections import decode

    return [rows[rows[:, 4] >= SHOWN_SCORE] for rows in decode(predicted_outputs(artifact, inputs))]


def masks_svg(images: np.ndarray, columns: dict[str, np.ndarray], num_classes: int) -> str:
    """Rows: images; columns: the image, then one mask per entry of `columns` (ignored pixels white)."""
    import matplotlib.pyplot as plt

    from edgeship.pipeline.reporting.svg import svg_text

    cmap = plt.get_cmap("tab20", max(num_classes, 2)).with_extremes(over="white")
    rows, cols = len(images), 1 + len(columns)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i in range(rows):
        picture = images[i].transpose(1, 2, 0)
        axes[i][0].imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray")
        for j, (name, masks) in enumerate(columns.items(), start=1):
            shown = np.where(masks[i] == IGNORE_INDEX, num_classes + 1, masks[i])
            axes[i][j].imshow(shown, cmap=cmap, vmin=0, vmax=num_classes - 0.5, interpolation="nearest")
            if i == 0:
                axes[i][j].set_title(name, fontsize=8)
        if i == 0:
            axes[i][0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return svg_text(fig)


def boxes_svg(images: np.ndarray, columns: dict[str, list[np.ndarray]], truth: list[np.ndarray],
              labels: list[str]) -> str:
    """Rows: images; columns: the image with its ground-truth boxes, then each entry's detections (class names,
    scores)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from edgeship.pipeline.reporting.svg import svg_text

    colours = plt.get_cmap("tab10")
    panels = {"ground truth": [np.c_[t[:, 1:5], np.ones(len(t)), t[:, 0]] for t in truth], **columns}
    rows, cols = len(images), len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows), squeeze=False)
    for i in range(rows):
        picture = images[i].transpose(1, 2, 0)
        for j, (name, found) in enumerate(panels.items()):
            ax = axes[i][j]
            ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray")
            for x1, y1, x2, y2, score, cls in found[i][:, :6].tolist():
                colour = colours(int(cls) % 10)
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1))
                text = labels[int(cls)] if name == "ground truth" else f"{labels[int(cls)]} {score:.2f}"
                ax.text(x1, y1, text, color=colour, fontsize=5, va="bottom")
            if i == 0:
                ax.set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return svg_text(fig)
