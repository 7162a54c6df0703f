"""Masked feature imitation for detectors, split into foreground and background (DeFeat, Guo et al. CVPR 2021;
the masked FitNets line of Wang et al. 2019): on each FPN level pair the student's map, aligned to the teacher's
channels by a learned 1x1 convolution, matches the teacher's by squared error inside the ground-truth boxes and
outside them, each part averaged over its own locations so the few object pixels are not drowned by the
background, then weighed (options: foreground, background)."""
from __future__ import annotations

import torch
from pydantic import Field

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.core.contracts.tasks import first_output
from edgeship.pipeline.distillation.box_regions import box_masks
from edgeship.pipeline.distillation.feature import match_spatial
from edgeship.pipeline.distillation.methods.base import AlignsChannels, register
from edgeship.targets.agent.detections import head_side


class ImitationSettings(Section):
    foreground: float = Field(1.0, ge=0.0)  # weight of the squared error inside the boxes
    background: float = Field(0.5, ge=0.0)  # ... and outside them (DeFeat: both carry knowledge)


@register
class MaskedImitation(AlignsChannels):
    name = "imitation"
    display = "fg/bg imitation"
    default_beta = 1.0
    tasks = ("detection",)
    needs_layers = True
    auto_balance = True  # squared feature errors have no fixed scale: balanced against the detection loss
    Settings = ImitationSettings

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        side = head_side(s_logits)
        total = torch.zeros((), device=first_output(s_logits).device)
        for align, s, t in zip(self.align, s_feats, t_feats):
            s, t = match_spatial(align(s), t.float())
            fg = box_masks(labels, side, *s.shape[-2:], s.device)
            error = (s - t).pow(2).mean(1, keepdim=True)  # per location, over channels
            inside, outside = fg.sum().clamp(min=1.0), (1 - fg).sum().clamp(min=1.0)
            total = total + self.settings.foreground * (error * fg).sum() / inside \
                + self.settings.background * (error * (1 - fg)).sum() / outside
        return total
