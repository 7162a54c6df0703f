"""Channel-wise distillation (Shu et al. 2021) for segmentation and detection: on the class logits (a detector's
over every point of every level; an anchor head's per location against a point head's: dense.class_maps), and on
each hooked layer pair when there are some (distill.layers, or a detector's FPN levels), student channels mapped to
the teacher's by a learned 1x1 convolution."""
from __future__ import annotations

import torch
from pydantic import Field

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.distillation.dense import channel_wise_loss, class_maps
from edgeship.pipeline.distillation.methods.base import AlignsChannels, register


class CwdSettings(Section):
    temperature: float = Field(4.0, gt=0.0)  # softmax temperature over each channel's locations


@register
class ChannelWiseDistillation(AlignsChannels):
    name = "cwd"
    display = "CWD"
    default_beta = 3.0  # the paper's (and MMRazor's) loss weight for logits
    tasks = ("segmentation", "detection")
    optional_layers = True
    Settings = CwdSettings

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        temperature = self.settings.temperature
        total = channel_wise_loss(*class_maps(s_logits, t_logits), temperature)
        for align, s, t in zip(self.align, s_feats, t_feats):
            total = total + channel_wise_loss(align(s), t, temperature)
        return total
