"""The report's sentence on how the student was distilled: method, scheme, weights and the weak-teacher guard."""
from __future__ import annotations

from edgeship.pipeline.core.contracts.plugins import METHODS, SCHEMES
from edgeship.pipeline.distillation.adapt import said


def method_display(method: str) -> str:
    """A method's own name for people; a report of a method no longer registered shows its recipe name."""
    return next((m.display for name, m in METHODS.items() if name == method), method)


def scheme_words(scheme: dict | None) -> str:
    """The scheme's own words (reports written before schemes existed were all offline; a scheme no longer
    registered is named as it was)."""
    scheme = scheme or {"name": "offline"}
    if scheme["name"] not in SCHEMES.names():
        return scheme["name"]
    return SCHEMES.get(scheme["name"]).describe(scheme)


TEACHER_OUTPUTS = {"cached": "cached (computed once, reused every epoch)", "live": "computed every step",
                   "online": "the peers', computed every step", "self": "the network's own, computed every step"}


def distillation_sentence(d: dict) -> str:
    weight = ""
    if d.get("beta") is not None:
        auto = " (auto: balanced against cross entropy on the first batches)" if d.get("beta_setting") == "auto" else ""
        weight = f"; method weight beta {d['beta']:.4g}{auto}"
    guard = ""
    if d.get("weak_teacher"):
        w = d["weak_teacher"]
        ahead = w.get("evidence")
        lead = (f" ({ahead['difference']:+.2f} points, 95% interval {ahead['low']:+.2f} to {ahead['high']:+.2f} on "
                f"{ahead['images']} images)" if ahead else "")
        guard = (f"; weak-teacher guard: the student passed the teacher's validation {w['teacher_val']:.2f} at "
                 f"epoch {w['epochs'][0]}{lead}, so the teacher's weight decayed to x{w['weight']:.3g}")
    outputs = TEACHER_OUTPUTS.get(d["teacher_outputs"], d["teacher_outputs"])
    return (f"Distillation: {method_display(d['method'])}, {scheme_words(d.get('scheme'))}; teacher outputs "
            f"{outputs}{weight}{guard}{adapted_words(d.get('adapted'))}"
            f"{search_words(d.get('search'))}.")


def adapted_words(adapted: dict | None) -> str:
    """What adaptive KD did (distillation/adapt.py), in the distillation sentence."""
    if not adapted:
        return ""
    if not adapted["actions"]:
        return "; adaptive KD: never measurably behind the scratch student, settings unchanged"
    return "; adaptive KD, behind the scratch student: " + "; ".join(said(a) for a in adapted["actions"])


def what_next(d: dict) -> str:
    """For a distilled student that did not beat scratch: what adapted, and the setting to try next."""
    adapted = d.get("adapted")
    if not adapted:
        if d.get("adapt") is False:
            return "Adaptive KD was off (distill.adapt: false); try it, or distill.alpha 0.5."
        return "Nothing watched it (adaptive KD needs distill.baseline: true and the offline scheme)."
    actions = adapted["actions"]
    if not actions:
        return ("It was never measurably behind the scratch student epoch by epoch (the difference is within the "
                "validation split's noise); try more epochs, or distill.method: dist.")
    steps = ", ".join(a["action"] for a in actions)
    if not adapted["teacher_on"]:
        return (f"Adaptive KD took every step ({steps}) and ended on labels alone: this teacher does not help this "
                "student; a closer teacher (an intermediate-size model distilled first) may.")
    settings = (f"distill.method dist, distill.alpha 0, distill.temperature {adapted['temperature']:g}"
                if adapted["logit_loss"] == "dist" else
                f"distill.alpha {adapted['alpha']:g}, distill.temperature {adapted['temperature']:g}")
    return (f"Adaptive KD changed {steps} from epoch {actions[0]['epoch']}; try where it ended from the first "
            f"epoch: {settings}.")


def search_words(found: dict | None) -> str:
    if not found:
        return ""
    words = (f"; picked by --search ({found['pick']}) from {found['trials']} short trials in {found['seconds']:.0f} s"
             " (search/trials.csv)")
    if found["timed_out"]:
        words += ", cut short by its time budget"
    if not found["beats_scratch"]:
        words += "; in the first rung no candidate beat the scratch student"
    return words
