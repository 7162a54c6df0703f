"""docs/recipe.md is generated from the recipe's pydantic models: it must say what the code accepts today."""
from __future__ import annotations

from pathlib import Path

from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.config.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipe.md"


def test_docs_recipe_md_is_not_stale():
    assert DOC.read_text() == reference(), (
        "docs/recipe.md is stale: python -m edgeship.pipeline.config.reference > docs/recipe.md")


def test_every_key_of_every_section_is_documented_with_a_meaning():
    text = reference()
    for name in Recipe.model_fields:
        assert f"| `{name}` |" in text
    undocumented = [line for line in text.splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert undocumented == [], "give these fields a comment in the source"
