"""The segmentation report's figure: a few validation images with their ground truth and the masks the teacher
and the shipped students predict, side by side."""
from __future__ import annotations

import numpy as np

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import runner_of
from edgeship.targets.agent import IGNORE_INDEX
from edgeship.targets.agent_host import open_runner

EXAMPLES = 4


def predicted_masks(artifact: Artifact, inputs: np.ndarray) -> np.ndarray:
    """argmax per pixel of one artifact, in its own runtime (torch for torch artifacts)."""
    if artifact.format == "torch":
        import torch

        from edgeship.pipeline.models.torch_artifact import load_teacher

        with torch.no_grad():
            return load_teacher(artifact)(torch.from_numpy(inputs)).argmax(1).numpy()
    runner = open_runner(runner_of(artifact.format), str(artifact.path), threads=1)
    return np.stack([runner(inputs[i:i + 1])[0].argmax(0) for i in range(len(inputs))])


def masks_svg(images: np.ndarray, columns: dict[str, np.ndarray], num_classes: int) -> str:
    """Rows: images; columns: the image, then one mask per entry of `columns` (ignored pixels white)."""
    import matplotlib.pyplot as plt

    from edgeship.pipeline.reporting.html import svg_text

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
