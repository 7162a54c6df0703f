"""FGD, Focal and Global Knowledge Distillation for detectors (Yang et al., CVPR 2022), on each FPN level pair:

- focal: the squared error of the aligned student map against the teacher's, weighted by the teacher's spatial
  and channel attention (softmax of the mean absolute activation, temperature T, scaled to mean 1) and by scale
  masks: inside the boxes 1 / the box's area (every object weighs the same), outside 1 / the background's area,
  foreground and background weighed apart (alpha, beta);
- attention: the student's spatial and channel attention match the teacher's by L1 (gamma);
- global: both maps through one learned GcBlock (global context, Cao et al. 2019), the outputs matched by
  squared error (lambda): the relations between locations, not only each location.

The paper's weights for RetinaNet (alpha 1e-3, beta 5e-4, gamma 5e-4, lambda 5e-6 on sums) keep their ratios
here; the total is balanced against the detection loss by beta: auto.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.core.contracts.tasks import first_output
from edgeship.pipeline.distillation.box_regions import scale_masks
from edgeship.pipeline.distillation.feature import match_spatial
from edgeship.pipeline.distillation.methods.base import LearnedPairs, register
from edgeship.targets.agent.detections import head_side


class FgdSettings(Section):
    temperature: float = Field(0.5, gt=0.0)       # of the attention softmaxes
    foreground: float = Field(1.0, ge=0.0)        # alpha: focal term inside the boxes
    background: float = Field(0.5, ge=0.0)        # beta: ... outside them
    attention: float = Field(0.5, ge=0.0)         # gamma: attention imitation
    global_relation: float = Field(0.005, ge=0.0)  # lambda: GcBlock outputs


def attention(feature: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial (N, 1, H, W) and channel (N, C, 1, 1) attention, each with mean 1 over its locations / channels."""
    n, c, h, w = feature.shape
    magnitude = feature.abs()
    spatial = F.softmax(magnitude.mean(1).reshape(n, -1) / temperature, dim=1).reshape(n, 1, h, w) * (h * w)
    channel = F.softmax(magnitude.mean((2, 3)) / temperature, dim=1).reshape(n, c, 1, 1) * c
    return spatial, channel


class GlobalContext(nn.Module):
    """GcBlock: attention-pooled global context, transformed by a bottleneck and added to every location."""

    def __init__(self, channels: int):
        super().__init__()
        self.mask = nn.Conv2d(channels, 1, 1)
        hidden = max(channels // 2, 1)
        self.transform = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.LayerNorm([hidden, 1, 1]),
                                       nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        weights = F.softmax(self.mask(x).reshape(n, 1, -1), dim=2)             # (N, 1, HW)
        context = (x.reshape(n, c, -1) @ weights.transpose(1, 2)).reshape(n, c, 1, 1)
        return x + self.transform(context)


class FgdPair(nn.Module):
    def __init__(self, student_channels: int, teacher_channels: int):
        super().__init__()
        self.align = nn.Conv2d(student_channels, teacher_channels, 1, bias=False)
        self.context = GlobalContext(teacher_channels)


@register
class FocalGlobalDistillation(LearnedPairs):
    name = "fgd"
    display = "FGD"
    default_beta = 1.0
    tasks = ("detection",)
    auto_balance = True  # sums of squared features have no fixed scale: balanced against the detection loss
    Settings = FgdSettings
    pair_module = FgdPair

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        o = self.settings
        side = head_side(s_logits)
        total = torch.zeros((), device=first_output(s_logits).device)
        for pair, s, t in zip(self.pairs, s_feats, t_feats):
            s, t = match_spatial(pair.align(s), t.float())
            n = s.shape[0]
            fg, bg = scale_masks(labels, side, *s.shape[-2:], s.device)
            t_spatial, t_channel = attention(t, o.temperature)
            s_spatial, s_channel = attention(s, o.temperature)
            error = (s - t).pow(2) * t_spatial * t_channel
            focal = (o.foreground * (error * fg).sum() + o.background * (error * bg).sum()) / n
            mimic = ((s_spatial - t_spatial).abs().sum() + (s_channel - t_channel).abs().sum()) / n
            relation = (pair.context(s) - pair.context(t)).pow(2).sum() / n
            total = total + focal + o.attention * mimic + o.global_relation * relation
        return total
