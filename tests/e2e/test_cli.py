import json

from edgeship.pipeline.cli.main import main


def test_bench_verb_measures_model_files(tiny_run, capsys):
    run_dir = tiny_run[0]
    models = sorted(str(p) for p in (run_dir / "ship").glob("*/model*") if p.suffix in (".onnx", ".tflite", ".xml"))
    assert len(models) == 3
    code = main(["bench", *models, "--min-runs", "5", "--min-seconds", "0", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {r["format"] for r in rows} == {"onnx", "tflite", "openvino"}
    assert all(r["status"] == "ok" and r["latency_ms"]["p50"] > 0 for r in rows)


def test_bench_with_eval_set_reports_accuracy(tiny_run, capsys):
    run_dir = tiny_run[0]
    eval_npz = next((run_dir / "data").glob("eval-*.npz"))
    onnx = next((run_dir / "ship" / "onnx").glob("*.onnx"))
    assert main(["bench", str(onnx), "--eval", str(eval_npz), "--min-runs", "3", "--min-seconds", "0",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    expected = next(r for r in tiny_run[1].results if r.stage == json.loads(
        (run_dir / "ship" / "onnx" / "artifact.json").read_text())["stage"])
    assert row["accuracy"] == expected.accuracy


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "missing.onnx")]) == 2
    assert "model file not found" in capsys.readouterr().err
    (tmp_path / "m.pkl").write_text("x")
    assert main(["bench", str(tmp_path / "m.pkl")]) == 2
    assert "unknown model format" in capsys.readouterr().err


def test_report_verb_rewrites_markdown(tiny_run, capsys):
    run_dir = tiny_run[0]
    (run_dir / "report.md").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert "student (KD, pruned)" in (run_dir / "report.md").read_text()
    assert "teacher" in capsys.readouterr().out


def test_report_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no report.json" in capsys.readouterr().err


def test_second_optimize_on_a_locked_run_folder_is_refused(tmp_path, write_yaml, capsys):
    from edgeship.pipeline.core.infrastructure.runlock import run_lock
    from tests.support.recipes import tiny_recipe_dict

    recipe = write_yaml(tiny_recipe_dict())
    with run_lock(tmp_path / "run"):
        assert main(["optimize", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert "another edgeship optimize is running" in capsys.readouterr().err


def test_every_verb_has_help(capsys):
    import pytest

    for verb in ("optimize", "distill", "bench", "report"):
        with pytest.raises(SystemExit) as exit_info:
            main([verb, "--help"])
        assert exit_info.value.code == 0
        assert "usage: edgeship " + verb in capsys.readouterr().out


def test_force_of_an_unknown_stage_is_refused(tmp_path, write_yaml, capsys):
    from tests.support.recipes import tiny_recipe_dict

    recipe = write_yaml(tiny_recipe_dict())
    assert main(["optimize", str(recipe), "--run-dir", str(tmp_path / "run"), "--force", "teachr"]) == 2
    assert "--force teachr: unknown stage" in capsys.readouterr().err


def test_bench_of_a_run_folder_reads_its_manifest_and_rebuilds_nothing(tiny_run, tmp_path, capsys):
    """Even when the recipe would now give other stage keys (here: another teacher), `bench RUN_DIR` measures the
    artifacts the manifest names; it trains nothing and leaves manifest, stages and report.json as they were."""
    import shutil

    import yaml

    copy = tmp_path / "run"
    shutil.copytree(tiny_run[0], copy)
    recipe = yaml.safe_load((copy / "recipe.yaml").read_text())
    recipe["teacher"]["train"]["epochs"] = 3
    (copy / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    before = {p.name for p in (copy / "stages").iterdir()}, (copy / "manifest.json").read_text(), \
        (copy / "report.json").read_text()
    assert main(["bench", str(copy), "--force"]) == 0
    out = capsys.readouterr().out
    assert {p.name for p in (copy / "stages").iterdir()} == before[0]
    assert (copy / "manifest.json").read_text() == before[1] and (copy / "report.json").read_text() == before[2]
    assert "student (KD, pruned)" in out and "teacher" in out
    assert out.count(" ok ") == 13 and "failed" not in out  # 4 torch, 3 formats x fp32/int8, teacher x 3 formats
