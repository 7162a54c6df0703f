"""Teacher assistant (distill.scheme: assistant; Mirzadeh et al., AAAI 2020, "Improved Knowledge Distillation via
Teacher Assistant"): a student far smaller than its teacher learns better from a model in between, itself
distilled from the teacher. TAKD found the assistant best near the middle of the gap; here it is the teacher
pruned (Torch-Pruning, L1, one shot) to the geometric mean of the two models' MACs and fine-tuned with KD from the
teacher (prune.finetune's settings), so any family the prune stage takes can have one. The student is then
distilled from the assistant with the recipe's method (and adaptive KD, as offline)."""
from __future__ import annotations

import copy
import math

from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.distillation.family_settings import family_settings
from edgeship.pipeline.models.zoo import count_macs_params
from edgeship.pipeline.stages.fit import fit
from edgeship.pipeline.stages.prune import _finetune_method, prune_channels
from edgeship.pipeline.stages.scheme_run import SchemeRun

# Below this ratio of teacher to student MACs there is no room for a model in between: the scheme distills from
# the teacher itself (TAKD's gains came from gaps of 10x and more).
MIN_GAP = 4.0


def assistant_ratio(teacher_macs: int, student_macs: int) -> float:
    """The share of channels pruned from every layer of the teacher to leave about sqrt(teacher x student) MACs:
    a convolution's MACs fall as the product of its input and output channels, so about as the square."""
    kept_macs = math.sqrt(student_macs / teacher_macs)
    return 1.0 - math.sqrt(kept_macs)


def train_with_assistant(run: SchemeRun):
    ctx = run.ctx
    teacher = run.teacher()
    model, spec = run.new_student()
    cfg = family_settings(run.cfg, model)[0]
    teacher_macs, student_macs = (count_macs_params(m, run.example)[0] for m in (teacher, model))
    gap = teacher_macs / max(student_macs, 1)
    if gap < MIN_GAP:
        distiller = Distiller(teacher, model, cfg, run.example, run.task.loss,
                              teacher_accuracy=run.source.metrics.get("val_accuracy"), reference=run.reference())
        summary = run.fit(model, distiller)
        return model, spec, summary.with_scheme({"name": "assistant", "assistant": None, "gap": gap,
                                                 "why": f"the teacher has {gap:.1f}x the student's MACs, under "
                                                        f"{MIN_GAP:g}x: no room for a model in between"})
    ratio = assistant_ratio(teacher_macs, student_macs)
    assistant = prune_channels(copy.deepcopy(teacher), run.example, ratio, ctx.data.num_classes)
    teaching = Distiller(teacher, assistant, _finetune_method(cfg, run.task.dense), run.example, run.task.loss)
    try:
        taught = fit(assistant, ctx.recipe.prune.finetune, ctx, run.out, f"{run.stage} assistant", teaching,
                     log_name="train-assistant.csv", finetune=True)
    finally:
        teaching.close()
    distiller = Distiller(assistant.eval(), model, cfg, run.example, run.task.loss,
                          teacher_accuracy=taught.val_accuracy, reference=run.reference())
    summary = run.fit(model, distiller)
    return model, spec, summary.with_scheme({
        "name": "assistant", "gap": gap, "assistant": {
            "ratio": round(ratio, 4), "macs": count_macs_params(assistant, run.example)[0],
            "teacher_macs": teacher_macs, "student_macs": student_macs,
            "val_accuracy": taught.val_accuracy, "teacher_val_accuracy": run.source.metrics.get("val_accuracy")}})


def describe(scheme: dict) -> str:
    helper = scheme.get("assistant")
    if not helper:
        return f"assistant scheme without an assistant ({scheme.get('why', 'no room')}): a frozen teacher"
    return (f"teacher assistant (TAKD): the teacher pruned by {helper['ratio']:.0%} of its channels to "
            f"{helper['macs'] / 1e6:.2f} M MACs (teacher {helper['teacher_macs'] / 1e6:.2f} M, student "
            f"{helper['student_macs'] / 1e6:.2f} M), fine-tuned with KD to {helper['val_accuracy']:.2f}% "
            f"validation, taught the student")


def check(recipe, task) -> None:
    if recipe.teacher.arch == "onnx":
        raise ValueError("distill.scheme assistant prunes the teacher into the assistant: an ONNX teacher cannot "
                         "be pruned; use scheme offline or a torch teacher")
