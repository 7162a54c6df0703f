"""docs/recipe.md, generated from the recipe's pydantic models: every key, its type, its default, and what the
comments beside the field in the source say about it. tests/unit/test_recipe_reference.py fails when the file is
stale; `python -m edgeship.pipeline.config.reference > docs/recipe.md` writes it anew.
"""
from __future__ import annotations

import inspect
import re
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from edgeship.pipeline.config.recipe import Recipe
from edgeship.pipeline.config.section import Section
from edgeship.pipeline.core.contracts.plugins import METHODS, TARGET_TYPES

HEADER = """# Recipe reference

Generated from the pydantic models in `pipeline/config/` by `python -m edgeship.pipeline.config.reference`
(`tests/unit/test_recipe_reference.py` fails when this file is stale). Every section is optional except `name`,
`teacher` and `student`; an unknown key is an error that names the field. Examples: `examples/*.yaml`.
"""


def field_comments(cls: type) -> dict[str, str]:
    """The comment block above each field of `cls` and the comment after it on its line, joined."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    found, block = {}, []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"\s{4}(\w+)\s*:", line)
        if match and not stripped.startswith(("def ", "@")):
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            found[match.group(1)] = " ".join([*block, trailing]).strip()
        block = []
    return found


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0]) + " (a registered name)"
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (list, dict, tuple):
        inner = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{origin.__name__}[{inner}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            value = [v.model_dump(mode="json", exclude_defaults=True) for v in value]
        return f"`{value}`"
    if field.default is PydanticUndefined:
        return "required"
    if isinstance(field.default, BaseModel):
        return "(section)"
    return f"`{field.default}`"


def _section(cls: type[Section], key: str, out: list[str], documented: dict[type, str]) -> None:
    """One table per section class; a class met again (student after teacher, finetune after train) points back."""
    documented[cls] = key
    comments = {k: v for base in reversed(cls.__mro__) for k, v in field_comments(base).items()}
    nested = []
    out += [f"## `{key or 'recipe'}`", "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in cls.model_fields.items():
        annotation, sub_key = field.annotation, f"{key}.{name}" if key else name
        meaning = comments.get(name, "").replace("|", "\\|")
        if isinstance(annotation, type) and issubclass(annotation, Section):
            seen = documented.get(annotation)
            where = f"the keys of `{seen}`" if seen is not None else f"see `{sub_key}` below"
            out.append(f"| `{sub_key}` | section | | {where}{'; ' + meaning if meaning else ''} |")
            if seen is None:
                documented[annotation] = sub_key
                nested.append((annotation, sub_key))
            continue
        out.append(f"| `{sub_key}` | {_type_name(annotation)} | {_default(field)} | {meaning} |")
    out.append("")
    for sub, sub_key in nested:
        _section(sub, sub_key, out, documented)


def reference() -> str:
    out = [HEADER]
    _section(Recipe, "", out, {})
    for name, method in METHODS.items():
        if method.Settings is not None:
            _section(method.Settings, f"distill.options (method: {name})", out, {})
    for name, kind in TARGET_TYPES.items():
        _section(kind.config, f"targets[] (type: {name})", out, {})
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
