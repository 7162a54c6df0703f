"""The example CI files parse, and every edgeship command they run is one the CLI accepts."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from edgeship.pipeline.cli.main import build_parser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def shell_lines(node) -> list[str]:
    """Every string in the file that a runner hands to a shell (GitHub `run:`, GitLab `script:` lists)."""
    if isinstance(node, dict):
        return [line for key, value in node.items() for line in
                ([value] if key == "run" and isinstance(value, str) else shell_lines(value))]
    if isinstance(node, list):
        return [line for item in node for line in shell_lines(item)]
    return [node] if isinstance(node, str) else []


def edgeship_commands(text: str) -> list[list[str]]:
    commands = []
    for line in text.split("&&"):
        words = shlex.split(line.split(">")[0])  # drop an output redirect
        if words and words[0].endswith("/edgeship"):
            commands.append(words[1:])
    return commands


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_example_ci_parses_and_its_commands_exist(name):
    data = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(data, dict)
    commands = [c for line in shell_lines(data) for c in edgeship_commands(line)]
    used = {c[0] for c in commands}
    assert {"targets", "optimize", "check", "baseline"} <= used, used
    parser = build_parser()
    for args in commands:
        parsed = parser.parse_args(args)  # exits (fails the test) on an unknown command or option
        assert callable(parsed.func)
