"""Distillation schemes through `edgeship distill`: online (deep mutual learning) and self (born-again,
deep-to-shallow)."""
import json
import math

import numpy as np
import pytest
import torch

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import DistillConfig
from edgeship.pipeline.distillation.online import MutualLearning
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.reporting.distillation import distillation_sentence
from tests.support.recipes import tiny_recipe_dict


def _metrics(run_dir, stage: str) -> dict:
    folder = next(p for p in (run_dir / "stages").iterdir() if p.name.startswith(stage + "-"))
    return json.loads((folder / "artifact.json").read_text())["metrics"]


def test_mutual_learning_loss_is_each_networks_ce_plus_kl_to_the_others():
    torch.manual_seed(0)
    peers = [build_model("simple_cnn", 10, 1, 8, {"width": 4, "depth": 1}) for _ in range(2)]
    learning = MutualLearning(peers, DistillConfig(scheme="online", peers=2))
    x, labels = torch.randn(6, 1, 8, 8), torch.randint(0, 10, (6,))
    student = torch.randn(6, 10)
    total, parts = learning.loss(student, labels, torch.arange(6), x, epoch=1)
    outputs = [student] + [p(x) for p in peers]
    expected = 0.0
    for i, z in enumerate(outputs):  # by hand: KL(p_j || p_i) at T = 1, averaged over the two others
        log_p = torch.log_softmax(z, 1)
        kls = [(torch.softmax(o, 1) * (torch.log_softmax(o, 1) - log_p)).sum(1).mean()
               for j, o in enumerate(outputs) if j != i]
        expected += torch.nn.functional.cross_entropy(z, labels) + sum(kls) / 2
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["ce"] == pytest.approx(torch.nn.functional.cross_entropy(student, labels).item(), rel=1e-5)
    total.backward()
    assert all(p.grad is not None for peer in peers for p in peer.parameters())  # the peers learn too


def test_mutual_learning_ramps_the_kl_up_over_the_first_steps():
    torch.manual_seed(0)
    peers = [build_model("simple_cnn", 10, 1, 8, {"width": 4, "depth": 1})]
    learning = MutualLearning(peers, DistillConfig(scheme="online", mimicry_rampup=0.5))
    learning.prepare(None, augment=False, epochs=2, steps=10)  # ramp over the first 5 of 10 steps
    x, labels, student = torch.randn(6, 1, 8, 8), torch.randint(0, 10, (6,)), torch.randn(6, 10)
    weights = []
    for _ in range(7):
        total, parts = learning.loss(student, labels, torch.arange(6), x, epoch=1)
        ce_and_kl = learning.mutual_losses([student, peers[0](x)], labels)
        unweighted_ce = sum(ce.item() for ce, _ in ce_and_kl)
        weights.append(parts["mimicry_weight"])
        assert total.item() == pytest.approx(unweighted_ce + weights[-1] * sum(kl.item() for _, kl in ce_and_kl),
                                             rel=1e-5)
    expected = [math.exp(-5 * (1 - step / 5) ** 2) for step in range(5)] + [1.0, 1.0]
    assert weights == pytest.approx(expected)


SENTENCES = {"online": "online (deep mutual learning", "self": "self-distillation (born-again",
             "deep_to_shallow": "self-distillation (deep-to-shallow: classifiers after features.",
             "assistant": "teacher assistant (TAKD): the teacher pruned by"}


@pytest.mark.parametrize("scheme, extra", [("online", {"distill.peers": 1}), ("self", {"distill.generations": 2}),
                                           ("self", {"distill.self_mode": "deep_to_shallow"}), ("assistant", {})])
def test_scheme_trains_the_student_and_is_reported(tmp_path, write_yaml, capsys, scheme, extra):
    recipe = write_yaml(tiny_recipe_dict(**{"distill.scheme": scheme, "student.train.epochs": 3, **extra}))
    run_dir = tmp_path / "run"
    assert main(["distill", str(recipe), "--run-dir", str(run_dir)]) == 0
    metrics = _metrics(run_dir, "student-kd")
    assert metrics["scheme"]["name"] == scheme
    assert metrics["val_accuracy"] > 30.0  # 10 classes: well above chance after 3 epochs
    mode = extra.get("distill.self_mode", scheme)
    if mode == "self":
        assert [g["generation"] for g in metrics["scheme"]["generations"]] == [1, 2]
        assert any((run_dir / "stages").glob("student-kd-*/train-gen2.csv"))
    if mode == "assistant":  # the teacher pruned to about the geometric mean of the two models' MACs
        helper = metrics["scheme"]["assistant"]
        middle = (helper["teacher_macs"] * helper["student_macs"]) ** 0.5
        assert helper["student_macs"] < helper["macs"] < helper["teacher_macs"]
        assert 0.5 * middle < helper["macs"] < 2 * middle and helper["val_accuracy"] > 30.0
        assert any((run_dir / "stages").glob("student-kd-*/train-assistant.csv"))
    if mode == "deep_to_shallow":  # the heads are dropped: the exported student has the scratch one's weights
        assert metrics["scheme"]["exits"] and metrics["params"] == _metrics(run_dir, "student-scratch")["params"]
    sentence = distillation_sentence({"method": "kd", "teacher_outputs": metrics["teacher_logits"],
                                      "scheme": metrics["scheme"]})
    assert SENTENCES[mode] in sentence


def test_self_scheme_needs_the_scratch_student(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(**{"distill.scheme": "self", "distill.baseline": False}))
    assert main(["distill", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert "distill.scheme self (born_again) starts from the scratch student" in capsys.readouterr().err


@pytest.mark.parametrize("overrides, message", [
    ({"distill.self_mode": "deep_to_shallow", "distill.method": "dkd"},
     "distill.scheme self trains on the network's own outputs (method kd), not 'dkd'"),
    ({"distill.self_mode": "deep_to_shallow", "distill.exits": ["nowhere"]},
     "distill.exits: no module named 'nowhere' in the student"),
])
def test_deep_to_shallow_bad_input_is_one_line(tmp_path, write_yaml, capsys, overrides, message):
    recipe = write_yaml(tiny_recipe_dict(**{"distill.scheme": "self", **overrides}))
    assert main(["distill", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_distill_search_trains_the_pick_and_writes_every_trial(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(**{"student.train.epochs": 3}))
    run_dir = tmp_path / "run"
    assert main(["distill", str(recipe), "--run-dir", str(run_dir), "--search", "600"]) == 0
    found = json.loads((run_dir / "search" / "search.json").read_text())
    rows = (run_dir / "search" / "trials.csv").read_text().splitlines()
    rung0 = [r for r in rows[1:] if r.startswith("0,")]
    assert len(rung0) == 11  # scratch, KD at 3 temperatures x 2 alphas, DKD and DIST at 2 (no layer pairs)
    assert len(rows) - 1 == 11 + 4  # a third (rounded up) go on to the second rung
    assert metrics_method(run_dir) == found["settings"]["method"] != "scratch"
    assert "search picked" in capsys.readouterr().err
    assert main(["distill", str(recipe), "--run-dir", str(run_dir), "--search", "600"]) == 0
    assert "reused: " + found["pick"] in capsys.readouterr().err


def metrics_method(run_dir) -> str:
    return _metrics(run_dir, "student-kd")["method"]


def test_search_refuses_several_processes(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict())
    assert main(["distill", str(recipe), "--run-dir", str(tmp_path / "r"), "--search", "--nproc", "2"]) == 2
    assert "--search runs its trials in one process" in capsys.readouterr().err


def test_an_assistant_needs_room_between_teacher_and_student(tmp_path, write_yaml):
    # a student as large as its teacher: nothing fits in between, the teacher itself teaches, and the report says so
    recipe = write_yaml(tiny_recipe_dict(**{"distill.scheme": "assistant", "student.train.epochs": 2,
                                            "student.arch": "cifar_resnet8", "student.args": {"width": 8}}))
    run_dir = tmp_path / "run"
    assert main(["distill", str(recipe), "--run-dir", str(run_dir)]) == 0
    scheme = _metrics(run_dir, "student-kd")["scheme"]
    assert scheme["assistant"] is None and "no room for a model in between" in scheme["why"]
    assert "without an assistant" in distillation_sentence({"method": "kd", "teacher_outputs": "cached",
                                                             "scheme": scheme})


@pytest.mark.parametrize("adapt", [True, False])
def test_the_distilled_student_is_watched_against_the_scratch_curve_unless_pinned(tmp_path, write_yaml, adapt):
    recipe = write_yaml(tiny_recipe_dict(**{"student.train.epochs": 3, "distill.adapt": adapt}))
    run_dir = tmp_path / "run"
    assert main(["distill", str(recipe), "--run-dir", str(run_dir)]) == 0
    metrics = _metrics(run_dir, "student-kd")
    # the scratch student keeps its per-image outcomes of every epoch for the paired comparison
    kept = list(run_dir.glob("stages/student-scratch-*/val-counts.npz"))
    if not adapt:
        assert "adapted" not in metrics and not kept
        return
    counts = np.load(kept[0])["counts"]
    adapted = metrics["adapted"]
    assert counts.shape[:2] == (3, adapted["images"]) and counts.sum() > 0
    assert adapted["reference"] == "scratch" and adapted["images"] > 0 and adapted["paired"]
    # behind means the upper end of the paired interval of student - scratch is below zero
    assert all(a["paired"] and a["high"] < 0 and a["student_val"] < a["scratch_val"] for a in adapted["actions"])
    sentence = distillation_sentence({"method": "kd", "teacher_outputs": "cached", "adapted": adapted})
    assert "adaptive KD" in sentence
