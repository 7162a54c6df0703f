import json

import pytest

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.runfolder import RunFolder
from edgeship.pipeline.core.contracts.stage_graph import export

SID = export("onnx")  # the stage "onnx-fp32"


def _builder(content: str, crash: bool = False):
    def build(out):
        (out / "model.bin").write_text(content)
        if crash:
            raise RuntimeError("converter exploded")
        return Artifact.made(SID, folder=out, file="model.bin", key="k1", parent=None, inputs=[], preprocessing={},
                             labels=[])
    return build


def test_stage_is_built_once_then_reused(tmp_path):
    run = RunFolder(tmp_path)
    art = run.run_stage(SID, "export", "k1", None, {}, _builder("one"))
    assert art.path.read_text() == "one" and art.folder.name == "onnx-fp32-k1"
    again = run.run_stage(SID, "export", "k1", None, {}, _builder("two"))
    assert again.path.read_text() == "one"
    assert run.records[-1].status == "reused"
    forced = run.run_stage(SID, "export", "k1", None, {}, _builder("three"), force=True)
    assert forced.path.read_text() == "three"


def test_crash_leaves_no_half_folder_and_keeps_the_earlier_result(tmp_path):
    run = RunFolder(tmp_path)
    run.run_stage(SID, "export", "k1", None, {}, _builder("good"))
    with pytest.raises(RuntimeError):
        run.run_stage(SID, "export", "k1", None, {}, _builder("bad", crash=True), force=True)
    assert sorted(p.name for p in (tmp_path / "stages").iterdir()) == ["onnx-fp32-k1"]
    assert (tmp_path / "stages" / "onnx-fp32-k1" / "model.bin").read_text() == "good"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["stages"][-1]["status"] == "failed"
    assert "converter exploded" in manifest["stages"][-1]["error"]
    assert manifest["stages"][-1]["identity"] == {"role": "export", "format": "onnx", "precision": "fp32",
                                                   "of_teacher": False, "variant": ""}


def test_crash_on_first_build_leaves_nothing(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(RuntimeError):
        run.run_stage(SID, "export", "k2", None, {}, _builder("bad", crash=True))
    assert list((tmp_path / "stages").iterdir()) == []
