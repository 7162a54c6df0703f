"""The task's metric on the device, from the eval set the host pushed: top-1, or mIoU from a confusion matrix."""
from __future__ import annotations

import numpy as np

from .detections import Detections

IGNORE_INDEX = 255  # mask pixels with this value count nowhere (VOC's border, unlabelled areas)


def confusion_update(confusion: np.ndarray, predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Add one prediction's pixels to a (K, K) confusion matrix (rows: truth, columns: prediction)."""
    classes = confusion.shape[0]
    keep = target != IGNORE_INDEX
    truth = target[keep].astype(np.int64)
    if truth.size and truth.max() >= classes:
        raise ValueError(f"mask class {int(truth.max())} is not below the model's {classes} output classes")
    confusion += np.bincount(truth * classes + predicted[keep].astype(np.int64),
                             minlength=classes * classes).reshape(classes, classes)
    return confusion


def segmentation_scores(confusion: np.ndarray) -> dict:
    """mIoU over the classes that occur (in truth or prediction), pixel accuracy, per-class IoU, and the share of
    pixels each class is predicted on and truly holds, in percent."""
    hits = np.diag(confusion).astype(np.float64)
    total = max(1, int(confusion.sum()))
    union = confusion.sum(0) + confusion.sum(1) - hits
    present = union > 0
    iou = np.where(present, hits / np.maximum(union, 1), np.nan) * 100.0
    return {"miou": float(np.nanmean(iou)) if present.any() else float("nan"),
            "pixel_accuracy": float(hits.sum() / max(1, confusion.sum()) * 100.0),
            "per_class_iou": [None if np.isnan(v) else round(float(v), 3) for v in iou],
            "predicted_share": [round(float(v) * 100.0 / total, 3) for v in confusion.sum(0)],
            "true_share": [round(float(v) * 100.0 / total, 3) for v in confusion.sum(1)]}


EVAL_BATCH_BYTES = 8 << 20  # float inputs per evaluation batch, as on the host
MAX_EVAL_BATCH = 256


class Batched:
    """A runner opened for `size` images at once; a shorter last batch is padded and its padding dropped."""

    def __init__(self, runner, size: int):
        self.runner, self.size = runner, size

    def _padded(self, x: np.ndarray) -> np.ndarray:
        if len(x) < self.size:
            x = np.concatenate([x, np.zeros((self.size - len(x), *x.shape[1:]), dtype=x.dtype)])
        return x

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.runner(self._padded(x))[:len(x)]

    def outputs(self, x: np.ndarray) -> list[np.ndarray]:
        return [out[:len(x)] for out in self.runner.outputs(self._padded(x))]


def batched_runner(open_runner, fmt: str, path: str, threads: int, one, inputs,
                   largest: int = MAX_EVAL_BATCH) -> Batched | None:
    """The model opened at the largest evaluation batch its file takes (ONNX's dynamic batch, OpenVINO's reshape,
    LiteRT's resize, torch through vmap), or None: a file that cannot, or whose batched outputs differ from one
    image at a time on the first batch, is evaluated one image at a time. Timing always stays at batch 1."""
    per_image = 4 * int(np.prod(one.input_shape[1:]))
    size = int(min(largest, len(inputs), max(1, EVAL_BATCH_BYTES // per_image)))
    if size <= 1:
        return None
    try:
        batched = Batched(open_runner(fmt, path, threads, size), size)
        first = inputs[:size]
        together = batched(first)
        alone = np.concatenate([one(first[i:i + 1]) for i in range(min(len(first), 4))])
        scale = max(1.0, float(np.abs(alone).max()))
        if together.shape[0] != len(first) or not np.allclose(together[:len(alone)], alone, rtol=1e-4,
                                                              atol=1e-4 * scale):
            return None
    except Exception:  # a static batch the runtime will not resize: one image at a time, as before
        return None
    return batched


class TopOne:
    """Top-1 accuracy over images: one class label per image."""

    def __init__(self):
        self.correct = self.seen = 0

    def update(self, outputs: np.ndarray, targets: np.ndarray) -> None:
        if targets.ndim != 1:
            raise ValueError(f"metric top1 takes one label per image, the eval set has labels of shape "
                             f"{targets.shape[1:]} per image (a segmentation eval set says metric miou)")
        self.correct += int((outputs.argmax(1) == targets).sum())
        self.seen += len(targets)

    def result(self) -> dict:
        return {"accuracy": self.correct / max(1, self.seen) * 100.0}


class MeanIoU:
    """mIoU from one confusion matrix streamed over the masks (argmax per pixel here, so no full-size output
    leaves the device)."""

    def __init__(self):
        self.confusion: np.ndarray | None = None

    def update(self, outputs: np.ndarray, targets: np.ndarray) -> None:
        for scores, mask in zip(outputs, targets):  # (K, H, W) and (H, W) per image
            if self.confusion is None:
                self.confusion = np.zeros((scores.shape[0], scores.shape[0]), dtype=np.int64)
            confusion_update(self.confusion, scores.argmax(0), mask)

    def result(self) -> dict:
        scores = segmentation_scores(self.confusion if self.confusion is not None else np.zeros((1, 1), np.int64))
        return {"accuracy": scores["miou"], "segmentation": scores}


# The metric is named by the eval set (the host's Task says which), never guessed from the labels' shape. A task's
# own metric comes as an extension module (extensions.py). A metric class may set `all_outputs = True` (update gets
# every output of the model, in the file's order) and define `postprocess(outputs) -> predictions` (what the
# device runs after inference, e.g. decoding boxes): then update gets the predictions, and the agent times it.
METRICS = {"top1": TopOne, "miou": MeanIoU, "map": Detections}


def metric_named(metric: str):
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (this agent knows {', '.join(METRICS)})")
    return METRICS[metric]


def raw_outputs(run, x: np.ndarray, meter):
    """What the model gives for the meter: its first output, or all of them (a metric with all_outputs)."""
    return run.outputs(x) if getattr(meter, "all_outputs", False) else run(x)


def evaluate_details(runner, inputs, labels, batched: Batched | None = None, metric: str = "top1") -> dict:
    """The task's metric on the device, batch by batch: `batched` is the same model taking several images per
    call (batched_runner), with the same figures. "accuracy" holds the metric's value in percent. Labels are an
    array (one per image, or masks) or Ragged (a variable number per image)."""
    meter = metric_named(metric)()
    size = batched.size if batched else 1
    run = batched or runner
    post = getattr(meter, "postprocess", None)
    for start in range(0, len(inputs), size):
        x = inputs[start:start + size]
        out = raw_outputs(run, x, meter)
        meter.update(post(out) if post else out, labels[start:start + len(x)])
    return meter.result()


def evaluate(runner, inputs, labels, metric: str = "top1") -> float:
    return evaluate_details(runner, inputs, labels, metric=metric)["accuracy"]


class Ragged:
    """A variable number of targets per image (boxes, a set of labels): `flat` rows of all images one after the
    other and `offsets` (N + 1) where each image's rows start; a slice gives a list of arrays, one per image."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray):
        self.flat, self.offsets = flat, np.asarray(offsets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: slice | int):
        if isinstance(index, (int, np.integer)):  # one image's rows
            return self.flat[self.offsets[index]:self.offsets[index + 1]]
        start, stop, _ = index.indices(len(self))
        return [self.flat[self.offsets[i]:self.offsets[i + 1]] for i in range(start, stop)]


class NormalizedImages:
    """uint8 images made model inputs one slice at a time: memory holds the uint8 set, never a float32 copy of it
    (10k images at 224 px: 1.5 GB as uint8, 6 GB as float32)."""

    def __init__(self, images: np.ndarray, scale, mean: np.ndarray, std: np.ndarray):
        shape = (1, -1, 1, 1)
        self.images, self.scale = images, np.float32(scale)
        self.mean, self.std = mean.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: slice) -> np.ndarray:
        return ((self.images[index].astype(np.float32) * self.scale - self.mean) / self.std).astype(np.float32)


def load_eval_set(path: str):
    """(inputs, labels, metric): float32 'inputs', or uint8 'images' with the 'scale', 'mean' and 'std' that make
    them model inputs; 'metric' names how to score them (top1 when the file does not say); 'labels' with
    'label_offsets' are a variable number of rows per image (Ragged)."""
    with np.load(path) as data:
        metric = str(data["metric"]) if "metric" in data else "top1"
        labels = Ragged(data["labels"], data["label_offsets"]) if "label_offsets" in data else data["labels"]
        if "inputs" in data:
            return data["inputs"].astype(np.float32), labels, metric
        return NormalizedImages(data["images"], data["scale"], data["mean"], data["std"]), labels, metric
