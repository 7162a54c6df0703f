from pathlib import Path

import pytest

from edgeship.pipeline.config.recipe import load_recipe

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_recipes_are_valid(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem
