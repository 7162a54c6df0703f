import re

import pytest

from edgeship.pipeline.cli.main import main
from edgeship.pipeline.config.recipe import load_recipe, parse_recipe
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from tests.support.recipes import tiny_recipe_dict


def test_tiny_recipe_parses_with_defaults():
    recipe = parse_recipe(tiny_recipe_dict())
    assert recipe.ship.max_accuracy_drop == 1.0
    assert recipe.quantize.calibration.sampling == "stratified"
    assert recipe.targets[0].type == "local"


@pytest.mark.parametrize("overrides, field", [
    ({"distill.temprature": 3}, "distill.temprature"),
    ({"prune.ratio": 1.5}, "prune.ratio"),
    ({"distill.temperature": 0}, "distill.temperature"),
    ({"student.train.epochs": "many"}, "student.train.epochs"),
    ({"data.source": "mnist-from-the-web"}, "data.source"),
    ({"export.formats": ["onnx", "coreml"]}, "export.formats.1"),
    ({"name": "../escape"}, "name"),
])
def test_bad_values_name_the_field(overrides, field):
    with pytest.raises(EdgeshipError) as err:
        parse_recipe(tiny_recipe_dict(**overrides))
    assert f"'{field}'" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_teacher_section_is_named():
    raw = tiny_recipe_dict()
    del raw["teacher"]
    with pytest.raises(EdgeshipError, match="'teacher'"):
        parse_recipe(raw)


def test_malformed_yaml_names_file_and_line(write_yaml):
    path = write_yaml("name: x\nteacher: [unclosed\n")
    with pytest.raises(EdgeshipError, match=r"recipe.yaml: line \d+ malformed YAML"):
        load_recipe(path)


def test_recipe_that_is_not_a_mapping(write_yaml):
    with pytest.raises(EdgeshipError, match="mapping"):
        load_recipe(write_yaml("- just\n- a list\n"))


@pytest.mark.parametrize("content, expected", [
    (None, "recipe file not found"),
    ("name: x\nteacher: {arch: simple_cnn}\nstudent: {arch: simple_cnn}\nbogus: 1\n", "field 'bogus': unknown key"),
])
def test_cli_prints_one_line_and_exits_2(tmp_path, write_yaml, capsys, content, expected):
    path = write_yaml(content) if content else tmp_path / "absent.yaml"
    code = main(["optimize", str(path), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_method_brings_its_own_options_and_the_shared_section_has_none_of_them():
    from edgeship.pipeline.config.distill import DistillConfig
    from edgeship.pipeline.core.contracts.plugins import METHODS

    assert not any(name.startswith(("dkd_", "cwd_")) for name in DistillConfig.model_fields)
    recipe = parse_recipe(tiny_recipe_dict(**{"distill.method": "dkd", "distill.options": {"warmup": 2}}))
    dkd = METHODS.get("dkd")(recipe.distill)
    assert (dkd.settings.warmup, dkd.settings.alpha, dkd.settings.beta) == (2, 1.0, 8.0)
    for options, words in (({"warmpu": 2}, "field 'distill': options.warmpu: unknown key (method 'dkd')"),
                           ({"warmup": -1}, "options.warmup: Input should be greater than or equal to 0")):
        with pytest.raises(EdgeshipError, match=re.escape(words)):
            parse_recipe(tiny_recipe_dict(**{"distill.method": "dkd", "distill.options": options}))
    with pytest.raises(EdgeshipError, match="method 'kd' takes no options"):
        parse_recipe(tiny_recipe_dict(**{"distill.options": {"warmup": 2}}))
    # a recipe from before: dkd_warmup is the dkd option it always meant; for another method it was never read
    old = parse_recipe(tiny_recipe_dict(**{"distill.method": "dkd", "distill.dkd_warmup": 3, "distill.dkd_beta": 4.0}))
    assert old.distill.options == {"warmup": 3, "beta": 4.0}
    assert parse_recipe(tiny_recipe_dict(**{"distill.cwd_temperature": 2.0})).distill.options == {}
