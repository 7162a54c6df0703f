import re
from pathlib import Path

import pytest

from edgeship.pipeline.config.recipe import load_recipe

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_recipes_are_valid(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem


def test_the_readme_recipe_is_valid():
    """The 15-line recipe a newcomer copies from README.md passes the same validation as a file would."""
    import yaml

    from edgeship.pipeline.config.recipe import parse_recipe

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    assert len(block.splitlines()) <= 15
    recipe = parse_recipe(yaml.safe_load(block), "README.md")
    assert recipe.student.arch == "mobilenet_v3_small" and recipe.targets[1].type == "ssh"


def test_the_readme_is_a_front_door():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert readme.splitlines()[3].startswith("make demo") and readme.splitlines()[4].startswith("make test")
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)\)", readme):
        assert (Path(__file__).resolve().parents[2] / link).is_file(), link
