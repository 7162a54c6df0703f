"""Fuzz the recipe loader: whatever nested mapping or text arrives, the user gets a Recipe or one clear
EdgeshipError, never a traceback."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeship.pipeline.config.recipe import load_recipe, parse_recipe
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from tests.support.recipes import tiny_recipe_dict

SECTIONS = ["name", "seed", "data", "teacher", "student", "distill", "prune", "export", "quantize", "bench",
            "targets", "ship", "type", "host", "ratio", "temperature", "epochs", "source", "layers"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20))
keys = st.one_of(st.sampled_from(SECTIONS), st.text(max_size=10))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def parse_or_refuse(raw) -> None:
    try:
        parse_recipe(raw)
    except EdgeshipError as err:
        assert "\n" not in str(err) and str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=6))
def test_random_recipes_never_crash(raw):
    parse_or_refuse(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SECTIONS[:12]), values)
def test_a_valid_recipe_with_one_section_replaced_never_crashes(section, value):
    raw = tiny_recipe_dict()
    raw[section] = value
    parse_or_refuse(raw)


def load_or_refuse(path, content) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    try:
        load_recipe(path)
    except EdgeshipError as err:
        assert "\n" not in str(err) and str(err)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_files_never_crash(tmp_path, content):
    load_or_refuse(tmp_path / "r.yaml", content)
