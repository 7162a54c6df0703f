"""The ship line from the scratch student: pruning fine-tunes without the teacher, names say so, the report's first
line says why."""
import json

import pytest

from edgeship.pipeline.config.recipe import parse_recipe
from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.engine.optimize import optimize
from tests.support.recipes import tiny_recipe_dict

pytestmark = pytest.mark.slow


def test_ship_line_from_the_scratch_student(tmp_path):
    recipe = parse_recipe(tiny_recipe_dict(**{
        "ship.start_from": "scratch", "export.formats": ["onnx"], "export.teacher": False,
        "quantize.enabled": False, "prune.steps": 1}))
    run_dir = tmp_path / "run"
    report = optimize(recipe, run_dir)
    arts = {p.name.rsplit("-", 1)[0]: Artifact.read(p) for p in (run_dir / "stages").iterdir()}
    assert arts["pruned"].parent == arts["student-scratch"].key
    assert arts["pruned"].metrics["teacher_logits"] == "none"  # no KD fine-tune from a teacher it did not beat
    assert report.ship_from == "student-scratch" and "scratch student" in report.notices[0]
    rows = {r.stage: r for r in report.results}
    assert rows["pruned"].model == rows["onnx-fp32"].model == "student (scratch, pruned)"
    assert report.ship["onnx"].stage == "onnx-fp32"
    text = (run_dir / "report.md").read_text().splitlines()
    assert text[2].startswith("> **The ship line starts from the scratch student")
    assert json.loads((run_dir / "report.json").read_text())["pruning"][0]["accuracy_change"] is not None
