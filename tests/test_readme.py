"""The README's examples run as written, and it documents every scenario key, flag and endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fake_llm.cli import build_parser, main
from fake_llm.scenarios.loader import parse_rules
from fake_llm.scenarios.schema import SCENARIO_SCHEMA
from fake_llm.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
YAML_BLOCKS = [code for lang, code in BLOCKS if lang == "yaml"]
PYTHON_BLOCKS = [code for lang, code in BLOCKS if lang == "python"]


def test_the_quickstart_is_two_make_commands() -> None:
    first = next(code for lang, code in BLOCKS if lang == "sh")
    assert "make run" in first
    assert "make test" in first


@pytest.mark.parametrize("code", YAML_BLOCKS, ids=[f"yaml-{i}" for i in range(len(YAML_BLOCKS))])
def test_yaml_examples_are_valid_scenarios(code: str) -> None:
    assert parse_rules(code, source="README.md").rules


def test_python_examples_pass(pytester: pytest.Pytester) -> None:
    """Each Python block is a test module of its own, run with the installed plugin."""
    for i, code in enumerate(PYTHON_BLOCKS):
        pytester.makepyfile(**{f"test_readme_{i}": code})
    result = pytester.runpytest("-p", "no:cacheprovider")
    tests = sum(len(re.findall(r"^def test_", code, flags=re.MULTILINE)) for code in PYTHON_BLOCKS)
    result.assert_outcomes(passed=tests)
    assert tests >= 6


def _keys(schema: Any) -> set[str]:
    """Every property name the scenario schema defines, at any depth."""
    found: set[str] = set()
    if isinstance(schema, dict):
        found.update(schema.get("properties", {}))
        for value in schema.values():
            found |= _keys(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _keys(value)
    return found


CODE_SPANS = re.findall(r"`([^`\n]+)`", README)


@pytest.mark.parametrize("key", sorted(_keys(SCENARIO_SCHEMA)))
def test_every_scenario_key_is_documented(key: str) -> None:
    pattern = re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w-])")
    assert any(pattern.search(span) for span in CODE_SPANS), f"README.md does not document the scenario key {key!r}"


def _serve_flags() -> list[str]:
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    serve = commands.choices["serve"]  # type: ignore[index]
    return [option for action in serve._actions for option in action.option_strings if option.startswith("--")]


@pytest.mark.parametrize("flag", [f for f in _serve_flags() if f != "--help"])
def test_every_flag_is_documented(flag: str) -> None:
    assert f"`{flag}" in README


@pytest.mark.parametrize("name", [f.upper() for f in Settings.__dataclass_fields__])
def test_every_variable_is_documented(name: str) -> None:
    assert f"`FAKE_LLM_{name}`" in README


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/v1/models", "/_fake/health", "/_fake/journal", "/_fake/reset", "/_fake/rules"]
)
def test_every_endpoint_is_documented(path: str) -> None:
    assert path in README


def test_editor_schema_file_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((ROOT / "docs" / "scenario.schema.json").read_text()) == printed, "run `make schema`"
