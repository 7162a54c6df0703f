"""The Task contract: what a kind of prediction (classification, segmentation, ...) brings to the flow.

A task is one file that registers a `Task` in core/contracts/plugins.py TASKS; the recipe's `task:` names it.
The training loop takes its loss and its meter from here; the report, the int8 budget, ship and the CI gate
name its metric; the device agent computes the same metric from the eval set's labels (one per image, or masks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import torch

from edgeship.pipeline.core.contracts.plugins import TASKS


class Meter(Protocol):
    """Accumulates a metric over batches: update(outputs, targets) per batch, then value() in percent. `counts`
    holds everything it has seen as integers, so the counts of several processes add up."""

    counts: np.ndarray

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None: ...

    def value(self) -> float: ...

    def details(self) -> dict: ...


@dataclass(frozen=True)
class Task:
    name: str
    metric: str                   # what the report's accuracy column holds, e.g. "top-1 %"
    loss: Callable                # loss(outputs, targets) -> scalar tensor: the supervised term of training
    predict_labels: Callable      # predict_labels(outputs) -> predicted labels (per image or per pixel)
    meter: Callable[[int], Meter]  # meter(num_classes): a fresh accumulator of the metric
    metric_name: str = "top-1"    # how sentences name a point of it ("+1.2 points top-1")
    # One label per image (False) or a mask per image (True): the output layout, and which methods apply.
    dense: bool = False
    # What its data sources must give per image (DataSource.targets): "labels", "masks" or a plug-in's kind.
    targets: str = "labels"
    # Accuracy intervals (Wilson) hold for a proportion of images, not for a pixel-pooled score such as mIoU.
    per_image_metric: bool = True
    # The device agent's metric (targets/agent/metrics.py METRICS) that scores this task's outputs on a device:
    # named in the eval set, so the agent never guesses it from the labels' shape.
    device_metric: str = "top1"
    # A standalone module pushed with the agent that adds device_metric to its METRICS (targets/agent/extensions.py):
    # a task whose metric the agent does not know. Its metric may take every output and post-process on the device.
    agent_module: str | None = None
    # parity(expected, got) -> % agreement of a converted file with torch on the same images, each a list of the
    # model's outputs (N, ...): argmax agreement unless the task says what agreeing means for it.
    parity: Callable | None = None
    parity_name: str = "argmax agreement"  # how error messages name it
    # The built-in task whose outputs this one shares (logits per image: "classification"): the distillation
    # methods written for that task apply to it too (a method lists the tasks it fits, Method.tasks).
    outputs_like: str | None = None
    # make_loss(loss_config, train_split, num_classes) -> (loss, record): the recipe's `loss:` choice for the
    # supervised term (dense tasks: class weights, OHEM, Dice, focal); None: `loss` is the only one
    make_loss: Callable | None = None
    # chance(num_classes) -> % a guess scores, where it is not 100 / classes (the health check's floor)
    chance: Callable[[int], float] | None = None
    # The meter's integer counts add up over images (top-1, a confusion matrix): the weak-teacher guard's paired
    # bootstrap needs it. COCO mAP does not add up: for such a task the guard stands aside.
    additive_counts: bool = True
    # score_on_host(agent_figures, eval_targets, input_side, num_classes) -> {"accuracy": %, ...}: for a metric
    # the device cannot compute (COCO mAP needs pycocotools), from what its agent module sent back (detections)
    score_on_host: Callable | None = None
    # distill: settings this task starts from where the recipe leaves them out, as (field, value) pairs:
    # detection distills its class logits and FPN levels channel-wise (cwd: the best of six methods in
    # benchmarks/distill_detection.py) and has no softmax over its classes to distil (alpha 0)
    distill_defaults: tuple[tuple[str, Any], ...] = ()
    # int8 keeps the model's prediction layers (output_layers()) float unless quantize.float_outputs says no:
    # boxes and scores of very different ranges (detection) lose most in the last convolutions
    float_outputs: bool = False
    # The metric on the training batches every epoch (False: on the last epoch's only, for the health check): COCO
    # mAP decodes every image and runs COCOeval, which would cost as much as the epoch's training
    train_metric_each_epoch: bool = True


def first_output(outputs):
    """The output that holds the classes on axis 1: the only one, or the first of several (a detector's)."""
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def detached(outputs):
    """Outputs without their graph, as float32: one tensor or a tuple of them."""
    if isinstance(outputs, (tuple, list)):
        return tuple(o.detach().float() for o in outputs)
    return outputs.detach().float()


def argmax_agreement(expected: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Over the first output's classes: per image, or per pixel for dense outputs."""
    return float((got[0].argmax(1) == expected[0].argmax(1)).mean() * 100.0)


def task_named(name: str) -> Task:
    return TASKS.get(name, "task")
