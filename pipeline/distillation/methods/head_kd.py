"""Dense head distillation for point-based detectors (the line of Dense Teacher, Zhou et al. ECCV 2022, and of
LD's "distill where the teacher is confident"): the student's raw head matches the teacher's point by point.

- classes: every point's sigmoid scores learn the teacher's by a quality-focal BCE (soft targets, each term
  weighed by |student - teacher|^2 so the many easy background points do not drown the few objects), normalized
  by the teacher's score mass;
- boxes and centerness: at the teacher's confident points (score = sqrt(class x centerness), as decoding ranks
  them), GIoU to the teacher's box and BCE to its centerness, weighed by that score.

No ground truth and no feature maps: teacher and student may be of different types and widths as long as their
heads share the point layout (same strides and input size: fcos_tiny and the torchvision FCOS family do) and
the classes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torchvision.ops import generalized_box_iou_loss

from edgeship.pipeline.config.section import Section
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.distillation.methods.base import Method, register
from edgeship.pipeline.tasks.detection import distance_boxes
from edgeship.targets.agent.detections import input_size, point_grid


class HeadKdSettings(Section):
    confident: float = Field(0.1, ge=0.0, lt=1.0)  # teacher score from which a point's box is distilled
    boxes: float = Field(1.0, ge=0.0)  # weight of the box and centerness terms beside the class term


def _check_layout(student, teacher) -> None:
    heads = [list(o) if isinstance(o, (tuple, list)) else [o] for o in (student, teacher)]
    if any(len(h) != 3 for h in heads) or any(s.shape != t.shape for s, t in zip(*heads)):
        shapes = [[tuple(o.shape) for o in head] for head in heads]
        raise EdgeshipError("distill.method: head-kd needs a teacher whose head has the student's point layout "
                            f"(class logits, distances, centerness of equal shapes); student {shapes[0]}, "
                            f"teacher {shapes[1]}: use pkd, which pairs FPN levels")


@register
class HeadDistillation(Method):
    name = "head-kd"
    display = "head KD"
    default_beta = 1.0  # each term is on the detection loss's own scale (focal / GIoU / BCE)
    tasks = ("detection",)
    Settings = HeadKdSettings

    def check_outputs(self, student_outputs, teacher_outputs) -> None:
        _check_layout(student_outputs, teacher_outputs)

    def loss(self, s_logits, t_logits, s_feats, t_feats, labels, epoch) -> torch.Tensor:
        s_cls, s_dist, s_ctr = s_logits
        t_cls, t_dist, t_ctr = (o.float() for o in t_logits)
        t_prob = torch.sigmoid(t_cls)
        quality = (torch.sigmoid(s_cls) - t_prob).abs().pow(2)
        cls = (F.binary_cross_entropy_with_logits(s_cls, t_prob, reduction="none") * quality).sum() \
            / t_prob.amax(1).sum().clamp(min=1.0)
        score = torch.sqrt(t_prob.amax(1) * torch.sigmoid(t_ctr[:, 0]))       # (N, P), as decoding ranks them
        where = score >= self.settings.confident
        if not where.any():
            return cls + 0.0 * (s_dist.sum() + s_ctr.sum())
        grid, _ = point_grid(input_size(s_cls.shape[2]))
        points = torch.from_numpy(grid).to(s_cls.device, s_cls.dtype)
        weight = score[where]
        student_boxes, teacher_boxes = (distance_boxes(points, d.transpose(1, 2))[where] for d in (s_dist, t_dist))
        box = (generalized_box_iou_loss(student_boxes, teacher_boxes, reduction="none") * weight).sum() / weight.sum()
        ctr = (F.binary_cross_entropy_with_logits(s_ctr[:, 0][where], torch.sigmoid(t_ctr[:, 0])[where],
                                                  reduction="none") * weight).sum() / weight.sum()
        return cls + self.settings.boxes * (box + ctr)
