"""The teacher from a user's weights-only checkpoint, and what happens when it does not fit."""
import torch

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.models.torch_artifact import load_torch_model
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.stages import teacher
from edgeship.pipeline.stages.context import Context
from tests.support.recipes import tiny_recipe_dict


def _checkpoint(tmp_path, width):
    torch.manual_seed(3)
    model = build_model("cifar_resnet8", 10, 1, 8, {"width": width}).eval()
    path = tmp_path / f"teacher-w{width}.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_teacher_stage_loads_a_checkpoint_instead_of_training(tmp_path):
    source, path = _checkpoint(tmp_path, 8)
    recipe = parse_recipe(tiny_recipe_dict(**{"teacher.checkpoint": str(path)}))
    ctx = Context(recipe=recipe, run=RunFolder(tmp_path / "run"), data=load_dataset(recipe.data))
    out = tmp_path / "out"
    out.mkdir()
    art = teacher.run(None, recipe.teacher, out, ctx, key="k")
    assert art.metrics["source"] == "checkpoint"
    assert not (out / "train.csv").exists()
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(load_torch_model(art)(x), source(x))


def test_mismatched_checkpoint_exits_2_and_keeps_earlier_outputs(tmp_path, write_yaml, capsys):
    _, path = _checkpoint(tmp_path, 16)  # the recipe's teacher has width 8
    run_dir = tmp_path / "run"
    earlier = run_dir / "stages" / "student-kd-0123456789ab"
    earlier.mkdir(parents=True)
    (earlier / "artifact.json").write_text("{}")
    recipe = write_yaml(tiny_recipe_dict(**{"teacher.checkpoint": str(path)}))
    assert main(["optimize", str(recipe), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("edgeship: error")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "teacher.checkpoint" in errors[0] and "does not match the architecture" in errors[0]
    assert (earlier / "artifact.json").read_text() == "{}"
    assert sorted(p.name for p in (run_dir / "stages").iterdir()) == ["student-kd-0123456789ab"]


def test_missing_dataset_folder_exits_2(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(**{"data.source": f"imagefolder:{tmp_path / 'nowhere'}"}))
    assert main(["optimize", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_unknown_architecture_exits_2(tmp_path, write_yaml, capsys):
    recipe = write_yaml(tiny_recipe_dict(**{"teacher.arch": "resnet-9000"}))
    assert main(["optimize", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert "unknown architecture 'resnet-9000'" in capsys.readouterr().err


def test_checkpoint_for_other_classes_gets_a_new_head_and_fine_tunes(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "teacher-3-classes.pt"
    torch.save(build_model("cifar_resnet8", 3, 1, 8, {"width": 8}).state_dict(), path)
    recipe = parse_recipe(tiny_recipe_dict(**{"teacher.checkpoint": str(path), "teacher.train.epochs": 4}))
    ctx = Context(recipe=recipe, run=RunFolder(tmp_path / "run"), data=load_dataset(recipe.data))
    out = tmp_path / "out"
    out.mkdir()
    art = teacher.run(None, recipe.teacher, out, ctx, key="k")
    assert art.metrics["source"] == "checkpoint, new head fine-tuned"
    assert art.metrics["replaced"] == ["fc.bias", "fc.weight"] and (out / "train.csv").is_file()
    assert art.metrics["val_accuracy"] > 30.0  # 10 classes: it learned, from a 3-class checkpoint


def test_an_onnx_teacher_teaches_by_its_logits(tmp_path, write_yaml):
    from tests.support.checkpoints import onnx_teacher

    onnx_file = onnx_teacher(tmp_path, 10)
    run_dir = tmp_path / "run"
    # An untrained network's ONNX file: judged unfit like any teacher near chance, distilled from anyway here.
    recipe = write_yaml(tiny_recipe_dict(**{"teacher.arch": "onnx", "teacher.checkpoint": onnx_file,
                                            "distill.unfit_teacher": "distill"}))
    assert main(["distill", str(recipe), "--run-dir", str(run_dir)]) == 0
    teacher_dir = next((run_dir / "stages").glob("teacher-*"))
    kd_dir = next((run_dir / "stages").glob("student-kd-*"))
    import json

    teacher_meta = json.loads((teacher_dir / "artifact.json").read_text())
    kd = json.loads((kd_dir / "artifact.json").read_text())["metrics"]
    assert teacher_meta["format"] == "onnx" and teacher_meta["metrics"]["source"] == "onnx file"
    assert "near chance" in teacher_meta["metrics"]["health"][0]
    assert (teacher_dir / "teacher.onnx").is_file() and kd["method"] == "kd" and kd["epochs"] >= 1
